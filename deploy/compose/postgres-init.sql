-- One database per service (they share nothing but events), all owned by the aid role.
CREATE DATABASE aid_pledges OWNER aid;
CREATE DATABASE aid_projects OWNER aid;
CREATE DATABASE aid_notifications OWNER aid;
