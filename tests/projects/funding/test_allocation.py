"""The allocation engine on its own: worked examples from the issue, then properties over random histories."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from aid_projects.funding.allocation import plan_agreement, plan_draw, split_by_gap, split_by_weight

D = Decimal


def test_two_syria_health_projects_share_500k_by_their_gaps() -> None:
    parts, rest = split_by_gap(D("500000.00"), {"a": D("600000.00"), "b": D("400000.00")})
    assert parts == {"a": D("300000.00"), "b": D("200000.00")} and rest == 0


def test_more_than_all_gaps_fills_them_and_pools_the_rest() -> None:
    parts, rest = split_by_gap(D("1200000.00"), {"a": D("600000.00"), "b": D("400000.00")})
    assert parts == {"a": D("600000.00"), "b": D("400000.00")} and rest == D("200000.00")


def test_largest_remainder_hands_out_the_odd_cents_exactly() -> None:
    parts = split_by_weight(D("100.00"), {"a": D("1.00"), "b": D("1.00"), "c": D("1.00")})
    assert sum(parts.values()) == D("100.00")
    assert sorted(parts.values()) == [D("33.33"), D("33.33"), D("33.34")]
    assert parts["a"] == D("33.34")  # ties go to the earlier project


def test_a_named_project_takes_everything_even_past_its_requirements() -> None:
    plan = plan_agreement(target=D("900.00"), shares={}, pool=D("0"), named="p")
    assert plan.projects == {"p": D("900.00")} and plan.pool == 0


def test_an_amendment_down_gives_back_the_pool_first_then_projects_by_their_share() -> None:
    plan = plan_agreement(target=D("600.00"), shares={"a": D("600.00"), "b": D("300.00")}, pool=D("100.00"))
    assert plan.pool == D("-100.00")
    assert plan.projects == {"a": D("-200.00"), "b": D("-100.00")}


def test_cancelling_reverses_exactly_what_each_project_holds() -> None:
    plan = plan_agreement(target=D("0"), shares={"a": D("333.33"), "b": D("0.01")}, pool=D("5.00"))
    assert plan.projects == {"a": D("-333.33"), "b": D("-0.01")} and plan.pool == D("-5.00")


def test_a_new_project_draws_the_pool_oldest_first_up_to_its_gap() -> None:
    assert plan_draw(D("250.00"), [("x", D("200.00")), ("y", D("100.00"))]) == {"x": D("200.00"), "y": D("50.00")}
    assert plan_draw(D("0.00"), [("x", D("200.00"))]) == {}


# Property-based: any projects, any history of signed / amended / cancelled agreements and new projects.

cents = st.integers(min_value=1, max_value=10**9).map(lambda c: Decimal(c).scaleb(-2))


class Book:
    """An in-memory ledger applying the engine's plans the way the service does."""

    def __init__(self, requirements: dict[int, Decimal], groups: dict[int, int]) -> None:
        self.requirements = requirements
        self.groups = groups  # project → the earmark group it matches
        self.funded = dict.fromkeys(requirements, Decimal("0.00"))
        self.shares: dict[int, dict[int, Decimal]] = {}  # agreement → project → held
        self.pool: dict[int, Decimal] = {}
        self.target: dict[int, Decimal] = {}
        self.earmark: dict[int, tuple[str, int]] = {}
        self.entries: list[tuple[int, int, Decimal, str]] = []  # agreement, project, amount, kind

    def gaps(self, group: int) -> dict[int, Decimal]:
        return {p: max(self.requirements[p] - self.funded[p], Decimal(0)) for p, g in self.groups.items() if g == group}

    def apply(self, agreement: int, target: Decimal, kind: str) -> None:
        shares = self.shares.setdefault(agreement, {})
        pool = self.pool.setdefault(agreement, Decimal("0.00"))
        earmark_kind, value = self.earmark[agreement]
        named = value if earmark_kind == "project" and target > sum(shares.values()) + pool else None
        gaps = self.gaps(value) if earmark_kind == "group" else None
        plan = plan_agreement(target=target, shares=shares, pool=pool, named=named, gaps=gaps)
        assert plan.total == target - sum(shares.values()) - pool
        for p, amount in plan.projects.items():
            shares[p] = shares.get(p, Decimal(0)) + amount
            self.funded[p] += amount
            self.entries.append((agreement, p, amount, kind))
        self.pool[agreement] = pool + plan.pool
        self.target[agreement] = target

    def add_project(self, project: int, requirement: Decimal, group: int) -> None:
        self.requirements[project], self.groups[project], self.funded[project] = requirement, group, Decimal("0.00")
        balances = [(a, b) for a, b in self.pool.items() if b > 0 and self.earmark[a] == ("group", group)]
        for a, amount in plan_draw(requirement, balances).items():
            self.shares[a][project] = self.shares[a].get(project, Decimal(0)) + amount
            self.funded[project] += amount
            self.pool[a] -= amount
            self.entries.append((a, project, amount, "draw"))


step = st.one_of(
    st.tuples(st.just("sign"), st.integers(0, 2), cents, st.booleans()),
    st.tuples(st.just("amend"), st.integers(0, 20), cents, st.just(False)),
    st.tuples(st.just("cancel"), st.integers(0, 20), st.just(Decimal(0)), st.just(False)),
    st.tuples(st.just("project"), st.integers(0, 2), cents, st.just(False)),
)


@settings(max_examples=300, deadline=None)
@given(
    requirements=st.lists(st.tuples(cents, st.integers(0, 2)), min_size=0, max_size=6),
    history=st.lists(step, max_size=25),
)
def test_every_agreement_adds_up_and_no_gap_capped_project_goes_over(requirements, history) -> None:
    book = Book({i: r for i, (r, _) in enumerate(requirements)}, {i: g for i, (_, g) in enumerate(requirements)})
    named_projects: set[int] = set()
    for action, n, amount, to_project in history:
        if action == "sign":
            agreement = len(book.earmark)
            if to_project and book.requirements:
                project = n % len(book.requirements)
                book.earmark[agreement] = ("project", project)
                named_projects.add(project)
            else:
                book.earmark[agreement] = ("group", n)
            book.apply(agreement, amount, "sign")
        elif action in ("amend", "cancel") and book.earmark:
            agreement = n % len(book.earmark)
            book.apply(agreement, amount, action)
        elif action == "project":
            book.add_project(len(book.requirements), amount, n)

        for agreement, target in book.target.items():
            held = sum(book.shares[agreement].values(), Decimal(0)) + book.pool[agreement]
            assert held == target, "Σ allocations + pool must equal the agreement's signed amount"
            assert book.pool[agreement] >= 0
            assert all(v >= 0 for v in book.shares[agreement].values())
        for project, funded in book.funded.items():
            if project not in named_projects:
                assert funded <= book.requirements[project], "a gap-capped project went over 100 %"
        for _, _, amount, kind in book.entries:
            assert amount != 0
            if kind in ("sign", "draw"):
                assert amount > 0, "only reversals are negative"
