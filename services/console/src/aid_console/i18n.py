"""Arabic and English: the words of the console, and numbers and money formatted for the chosen locale (Babel's
CLDR data — Arabic digits and separators where the locale uses them)."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal, InvalidOperation

from babel import Locale
from babel.dates import format_date, format_datetime
from babel.numbers import format_compact_decimal, format_decimal, format_percent, get_currency_precision
from markupsafe import Markup

LANGUAGES = ("en", "ar")
WORDS = {
    "en": {
        "title": "Crisis-aid coordination", "overview": "Overview", "projects": "Projects", "agreements": "Agreements",
        "pools": "Unallocated money", "partner": "My deliveries", "signin": "Sign in", "signout": "Sign out",
        "token": "Bearer token", "requirements": "Requirements", "funded": "Funded", "unmet": "Unmet",
        "unallocated": "Unallocated", "coverage": "Coverage", "received": "Received", "country": "Country",
        "sector": "Sector", "status": "Status", "appeal": "Appeal", "pillar": "Pillar", "gaps": "Biggest gaps",
        "by_country": "Coverage by country", "by_sector": "Coverage by sector", "ledger": "Funding ledger",
        "agreement": "Agreement", "donor": "Donor", "amount": "Amount", "kind": "Kind", "when": "When",
        "correlation": "Correlation id", "as_of": "As of", "apply": "Apply", "code": "Code", "name": "Name",
        "balance": "Balance", "why": "Why it waits", "not_permitted": "Your token does not allow this page.",
        "subscriptions": "Subscriptions", "deliveries": "Deliveries", "attempts": "Attempts",
        "last_error": "Last error", "retry": "Retry", "history": "History", "disbursements": "Disbursements",
        "currency": "Currency", "rate": "Rate", "earmark": "Earmark", "partners": "Partners", "filter": "Filter",
        "language": "العربية", "signin_help": "Paste the bearer token you were given; an operator makes one with",
        "all": "all", "live": "Live", "live_help": "Funding events as they happen (newest first).",
        "plans": "Plans", "plan": "Plan", "cluster": "Cluster", "outside_plans": "Outside every plan",
        "fts_published": "FTS published", "difference": "Difference",
        "plans_help": "A country's plan and cluster figures as OCHA FTS publishes them, computed from this "
        "platform's own ledger.",
        "legend_funded": "funded (allocated to projects)", "legend_pool": "unallocated: signed, waiting in pools",
        "legend_rest": "unmet", "figures_in": "Figures in US dollars; hover a figure for the exact amount.",
        "nothing_moved": "No money had been signed or received by this date. Choose a later date, or clear it for "
        "today's figures.",
        "no_projects": "No project matches these filters. Clear a filter to see more.",
        "waits_for_project": "earmarked to a project that is not there to take it",
        "waits_for_gap": "no active project for {place} has a gap left", "anything": "anything",
        "over_time": "Funding over time", "legend_signed": "signed (funded and waiting in pools)",
        "figures": "The figures", "top_donors": "Top donors", "signed_usd": "Signed (USD)",
        "usd": "USD", "address": "Address", "pledged_on": "Pledged", "signed_on": "Signed",
        "cancelled_on": "Cancelled", "change": "Change",
        "no_pools": "No money is waiting: every signed dollar is on a project.",
        "no_agreements": "No agreement yet. Agreements appear here as donors sign them (POST /v1/agreements).",
        "no_agreements_match": "No agreement matches these filters. Clear a filter to see more.",
        "my_projects": "My projects",
        "token_unchecked": "The token could not be checked now ({status}); try again.",
        "where_it_went": "Where the money went", "in_pool": "Waiting in a pool for a project",
        "nowhere_yet": "Not on any project yet: a pledge funds nothing until it is signed.",
        "no_ledger": "No money has reached this project yet.", "no_history": "No history.",
        "no_disbursements": "No money received on this agreement yet.",
        "no_deliveries": "No delivery yet: deliveries appear when an event matches a subscription.",
        "no_subscriptions": "No subscription yet.",
        "no_rows": "No figures for this country: import its FTS flows, or choose another country.",
        "organisations": "Organisations", "roles": "Roles", "fts_id": "FTS id",
        "organisations_help": "Every organisation once, in every role it plays: it gives, receives, implements or "
        "pools money. A partner account is its organisation.",
        "no_organisations": "No organisation yet. They appear as donors are added, FTS flows imported and partner "
        "accounts opened.",
        "no_organisations_match": "No organisation matches these filters. Clear a filter to see more.",
    },
    "ar": {
        "title": "تنسيق المساعدات في الأزمات", "overview": "نظرة عامة", "projects": "المشاريع",
        "agreements": "الاتفاقيات",
        "pools": "الأموال غير المخصصة", "partner": "إشعاراتي", "signin": "تسجيل الدخول", "signout": "تسجيل الخروج",
        "token": "رمز الدخول", "requirements": "الاحتياجات", "funded": "المموَّل", "unmet": "غير المغطّى",
        "unallocated": "غير المخصص", "coverage": "نسبة التغطية", "received": "المستلَم", "country": "البلد",
        "sector": "القطاع", "status": "الحالة", "appeal": "النداء", "pillar": "الركيزة", "gaps": "أكبر الفجوات",
        "by_country": "التغطية حسب البلد", "by_sector": "التغطية حسب القطاع", "ledger": "سجل التمويل",
        "agreement": "الاتفاقية", "donor": "المانح", "amount": "المبلغ", "kind": "النوع", "when": "التاريخ",
        "correlation": "معرّف التتبع", "as_of": "حتى تاريخ", "apply": "تطبيق", "code": "الرمز", "name": "الاسم",
        "balance": "الرصيد", "why": "سبب الانتظار", "not_permitted": "لا يسمح رمزك بهذه الصفحة.",
        "subscriptions": "الاشتراكات", "deliveries": "الإشعارات المرسلة", "attempts": "المحاولات",
        "last_error": "آخر خطأ", "retry": "إعادة المحاولة", "history": "السجل", "disbursements": "الدفعات",
        "currency": "العملة", "rate": "سعر الصرف", "earmark": "التخصيص", "partners": "الشركاء", "filter": "تصفية",
        "language": "English", "signin_help": "الصق رمز الدخول الذي حصلت عليه؛ ينشئه المشغّل بالأمر",
        "all": "الكل", "live": "مباشر", "live_help": "أحداث التمويل لحظة حدوثها (الأحدث أولاً).",
        "plans": "الخطط", "plan": "الخطة", "cluster": "المجموعة القطاعية", "outside_plans": "خارج كل الخطط",
        "fts_published": "ما نشرته خدمة التتبع المالي", "difference": "الفرق",
        "plans_help": "أرقام خطط البلد ومجموعاتها القطاعية كما تنشرها خدمة التتبع المالي، "
        "محسوبة من سجل هذه المنصة.",
        "legend_funded": "المموَّل (المخصص للمشاريع)", "legend_pool": "غير المخصص: موقَّع وينتظر في صناديق التجميع",
        "legend_rest": "غير المغطّى",
        "nothing_moved": "لم تُوقَّع أو تُستلم أي أموال حتى هذا التاريخ. اختر تاريخاً لاحقاً، أو امسحه لترى أرقام اليوم.",
        "no_projects": "لا يوجد مشروع يطابق هذه المرشحات. امسح أحدها لترى المزيد.",
        "figures_in": "الأرقام بالدولار الأمريكي؛ مرّر المؤشر فوق الرقم لترى المبلغ الدقيق.",
        "waits_for_project": "مخصص لمشروع غير موجود ليتسلّمه",
        "waits_for_gap": "لا يوجد مشروع نشط لـ {place} لديه فجوة متبقية", "anything": "أي شيء",
        "over_time": "التمويل عبر الزمن", "legend_signed": "الموقَّع (المموَّل والمنتظر في الصناديق)",
        "figures": "الأرقام", "top_donors": "أكبر المانحين", "signed_usd": "الموقَّع (بالدولار)",
        "usd": "بالدولار", "address": "العنوان", "pledged_on": "تاريخ التعهد", "signed_on": "تاريخ التوقيع",
        "cancelled_on": "تاريخ الإلغاء",
        "change": "التغيير",
        "no_pools": "لا توجد أموال منتظرة: كل دولار موقَّع مخصص لمشروع.",
        "no_agreements": "لا توجد اتفاقيات بعد. تظهر هنا عندما يوقّعها المانحون.",
        "no_agreements_match": "لا توجد اتفاقية تطابق هذه المرشحات. امسح أحدها لترى المزيد.",
        "my_projects": "مشاريعي",
        "token_unchecked": "تعذّر التحقق من الرمز الآن ({status})؛ حاول مرة أخرى.",
        "where_it_went": "أين ذهبت الأموال", "in_pool": "تنتظر في صندوق تجميع مشروعاً",
        "nowhere_yet": "ليست في أي مشروع بعد: التعهد لا يموّل شيئاً حتى يُوقَّع.",
        "no_ledger": "لم تصل أي أموال إلى هذا المشروع بعد.", "no_history": "لا يوجد سجل.",
        "no_disbursements": "لم تُستلم أي أموال على هذه الاتفاقية بعد.",
        "no_deliveries": "لا توجد إشعارات بعد: تظهر عندما يطابق حدثٌ أحد الاشتراكات.",
        "no_subscriptions": "لا توجد اشتراكات بعد.",
        "no_rows": "لا توجد أرقام لهذا البلد: استورد تدفقاته من خدمة التتبع المالي، أو اختر بلداً آخر.",
        "organisations": "المنظمات", "roles": "الأدوار", "fts_id": "رقم خدمة التتبع المالي",
        "organisations_help": "كل منظمة مرة واحدة، بكل أدوارها: تمنح الأموال أو تتلقاها أو تنفّذ بها أو تجمعها. "
        "حساب الشريك هو منظمته.",
        "no_organisations": "لا توجد منظمات بعد. تظهر عند إضافة المانحين واستيراد التدفقات وفتح حسابات الشركاء.",
        "no_organisations_match": "لا توجد منظمة تطابق هذه المرشحات. أزل مرشحاً لترى المزيد.",
    },
}  # fmt: skip


# The values the services answer with (statuses, kinds, roles), as a person reads them.
TERMS = {
    "en": {
        "pledged": "pledged", "signed": "signed", "cancelled": "cancelled", "planned": "planned", "active": "active",
        "closed": "closed", "allocation": "allocation", "reversal": "reversal", "implementing": "implementing",
        "accountable": "accountable", "funding": "funding", "pending": "pending", "failed": "failed, retrying",
        "delivered": "delivered", "dead": "not delivered", "disabled": "disabled", "created": "created",
        "amended": "amended", "disbursement": "money received",
        "donor": "donor", "recipient": "recipient", "implementing_partner": "implementing partner",
        "pooled_fund": "pooled fund", "government": "government", "development_bank": "development bank",
        "national_society": "Red Cross / Red Crescent society", "un_agency": "UN agency", "private": "private",
        "ngo": "NGO", "intergovernmental": "intergovernmental", "other": "other",
    },
    "ar": {
        "pledged": "متعهَّد به", "signed": "موقَّع", "cancelled": "ملغى", "planned": "مخطط", "active": "نشط",
        "closed": "مغلق", "allocation": "تخصيص", "reversal": "استرداد", "implementing": "منفِّذ",
        "accountable": "مسؤول", "funding": "ممول", "pending": "قيد الانتظار", "failed": "فشل، ستُعاد المحاولة",
        "delivered": "تم التسليم", "dead": "لم يُسلَّم", "disabled": "معطَّل", "created": "أُنشئت",
        "amended": "عُدِّلت", "disbursement": "استلام أموال",
        "donor": "مانح", "recipient": "متلقٍّ", "implementing_partner": "شريك منفِّذ", "pooled_fund": "صندوق مشترك",
        "government": "حكومة", "development_bank": "مصرف تنمية", "national_society": "جمعية صليب أحمر / هلال أحمر",
        "un_agency": "وكالة أممية", "private": "قطاع خاص", "ngo": "منظمة غير حكومية",
        "intergovernmental": "منظمة حكومية دولية", "other": "أخرى",
    },
}  # fmt: skip

# Sectors (the platform's slugs) and the cluster names FTS publishes, as people read them.
SECTORS = {
    "en": {
        "health": "Health", "education": "Education", "shelter": "Shelter", "protection": "Protection",
        "food-security": "Food security", "nutrition": "Nutrition", "wash": "Water, sanitation and hygiene",
        "livelihoods": "Livelihoods", "early-recovery": "Early recovery", "cash": "Cash assistance",
        "psychosocial": "Mental health and psychosocial support", "counter-trafficking": "Counter-trafficking",
        "camp-management": "Camp coordination and management", "logistics": "Logistics",
        "emergency-telecommunications": "Emergency telecommunications", "coordination": "Coordination",
        "multi-sector": "Multi-sector",
    },
    "ar": {
        "health": "الصحة", "education": "التعليم", "shelter": "المأوى", "protection": "الحماية",
        "food-security": "الأمن الغذائي", "nutrition": "التغذية", "wash": "المياه والصرف الصحي والنظافة",
        "livelihoods": "سبل العيش", "early-recovery": "التعافي المبكر", "cash": "المساعدات النقدية",
        "psychosocial": "الصحة النفسية والدعم النفسي الاجتماعي", "counter-trafficking": "مكافحة الاتجار بالبشر",
        "camp-management": "تنسيق وإدارة المخيمات", "logistics": "اللوجستيات",
        "emergency-telecommunications": "اتصالات الطوارئ", "coordination": "التنسيق",
        "multi-sector": "متعدد القطاعات",
        # FTS's global cluster names
        "Health": "الصحة", "Education": "التعليم", "Protection": "الحماية", "Food Security": "الأمن الغذائي",
        "Nutrition": "التغذية", "Water Sanitation Hygiene": "المياه والصرف الصحي والنظافة",
        "Emergency Shelter and NFI": "المأوى الطارئ والمواد غير الغذائية", "Logistics": "اللوجستيات",
        "Emergency Telecommunications": "اتصالات الطوارئ", "Early Recovery": "التعافي المبكر",
        "Camp Coordination / Management": "تنسيق وإدارة المخيمات",
        "Coordination and support services": "التنسيق وخدمات الدعم", "Multi-sector": "متعدد القطاعات",
        "Not specified": "غير محدد", "Multiple clusters/sectors (shared)": "عدة مجموعات/قطاعات (مشترك)",
        "Other": "أخرى",
    },
}  # fmt: skip
_LOCALES = {"en": "en_US", "ar": "ar_SA"}
_LATIN = re.compile("[A-Za-z]")
_ARABIC = re.compile("[\u0600-\u06ff]")


def term(value: object, lang: str) -> str:
    """A status, kind or role in the page's language (the value itself if it has no word yet)."""
    return TERMS[lang].get(str(value), str(value))


def ltr(value: object) -> Markup:
    """Text that reads left to right whatever the page's direction — amounts (a minus sign), codes (SY-NW-…),
    dates and times — isolated so that right-to-left Arabic around it cannot reorder it."""
    return Markup('<bdi dir="ltr">{}</bdi>').format("" if value is None else value)


def given(text: object, lang: str) -> Markup:
    """Text that people or other systems gave (a title, a name, a URL, an error) as it is, marked with its language
    when that is not the page's: a screen reader then reads it right, and the console's own check for English on
    Arabic pages knows it is data, not an untranslated word."""
    value = "" if text is None else str(text)
    if lang == "ar" and _LATIN.search(value) and not _ARABIC.search(value):
        return Markup('<span lang="en" dir="ltr">{}</span>').format(value)
    return Markup("{}").format(value)


def sector(slug: object, lang: str) -> Markup:
    """A sector or cluster by its name in the page's language (FTS's own names too)."""
    name = SECTORS[lang].get(str(slug)) or SECTORS["en"].get(str(slug))
    return Markup("{}").format(name) if name else given(slug, lang)


def country(code: object, lang: str) -> Markup:
    """A country by its CLDR name in the page's language (Babel), its ISO code on hover."""
    text = "" if code is None else str(code)
    name = country_name(text, lang)
    return Markup('<span title="{}">{}</span>').format(text, name) if name != text else ltr(text)


def country_name(code: object, lang: str) -> str:
    """A country's CLDR name as plain text (for an option of a select), its code if it has none."""
    text = "" if code is None else str(code)
    return Locale.parse(_LOCALES[lang]).territories.get(text.upper(), text) if len(text) == 2 else text


def place(key: object, lang: str) -> Markup:
    """A coverage row's key: a country, a sector, or a code as it is."""
    text = str(key)
    if len(text) == 2 and text.isupper():
        return country(text, lang)
    if text in SECTORS["en"]:
        return sector(text, lang)
    return ltr(text)


def day(value: object, lang: str) -> Markup:
    """A date (or the date of a timestamp) in the locale: 1 May 2024, ١ مايو ٢٠٢٤."""
    if not value:
        return Markup("")
    text = str(value)
    try:
        when = dt.date.fromisoformat(text[:10])
    except ValueError:
        return ltr(text)
    return Markup('<time datetime="{}">{}</time>').format(text[:10], format_date(when, "medium", _LOCALES[lang]))


def moment(value: object, lang: str) -> Markup:
    """A timestamp in the locale, to the minute (UTC), the exact one on hover."""
    if not value:
        return Markup("")
    text = str(value)
    try:
        when = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return ltr(text)
    shown = format_datetime(when, "medium", tzinfo=dt.UTC, locale=_LOCALES[lang])
    return Markup('<time datetime="{}" title="{}">{}</time>').format(text, text, shown)


def amount_in(value: object, currency: str, lang: str) -> Markup:
    """An amount in its own currency's digits (3 for KWD, 0 for JPY) and the locale's separators, with the code."""
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return ltr(value)
    places = get_currency_precision(currency)
    pattern = "#,##0" + ("." + "0" * places if places else "")
    return ltr(f"{currency} {format_decimal(amount, format=pattern, locale=_LOCALES[lang])}")


def rate(value: object, lang: str) -> Markup:
    """An exchange rate to six places at most (the stored one has up to 24)."""
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return ltr(value)
    return ltr(format_decimal(amount, format="#,##0.######", locale=_LOCALES[lang]))


def money(value: object, lang: str) -> str:
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return str(value)
    return format_decimal(amount, format="#,##0.00", locale="ar_SA" if lang == "ar" else "en_US")


def short(value: object, lang: str) -> Markup:
    """A summary figure people read at a glance — USD 3.4B, ٣٫٤ مليار — with the exact amount on hover."""
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return ltr(value)
    locale = "ar_SA" if lang == "ar" else "en_US"
    compact = format_compact_decimal(amount, format_type="short", locale=locale, fraction_digits=1)
    return Markup('<bdi dir="ltr" title="USD {}">USD {}</bdi>').format(money(amount, lang), compact)


def percent(value: object, lang: str) -> str:
    try:
        ratio = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return str(value)
    return format_percent(ratio, format="#,##0.#%", locale="ar_SA" if lang == "ar" else "en_US")


def name_in(obj: dict, lang: str, field: str = "title") -> Markup:
    """An object's name in the chosen language when it has one, else its English name (marked as English)."""
    own = (obj.get("names") or {}).get(lang)
    return Markup("{}").format(own) if own else given(obj.get(field) or obj.get("name") or "", lang)


def option(value: object, obj: dict, lang: str, field: str = "title", *, selected: bool = False) -> Markup:
    """An <option> naming `obj` (an option holds text only: an English name is marked on the option itself)."""
    name = (obj.get("names") or {}).get(lang) or obj.get(field) or obj.get("name") or ""
    foreign = lang == "ar" and _LATIN.search(name) and not _ARABIC.search(name)
    return Markup('<option value="{}"{}{}>{}</option>').format(
        value, Markup(' lang="en"') if foreign else "", Markup(" selected") if selected else "", name
    )


def why_waiting(pool: dict, lang: str) -> Markup:
    """Why a pool's money waits, from its earmark, in the page's language."""
    earmark = pool.get("earmark") or {}
    if earmark.get("project_id"):
        return Markup("{}").format(WORDS[lang]["waits_for_project"])
    parts = []
    if earmark.get("country"):
        parts.append(country(earmark["country"], lang))
    if earmark.get("sector"):
        parts.append(sector(earmark["sector"], lang))
    for code in ("appeal", "pillar"):
        if earmark.get(code):
            parts.append(ltr(earmark[code]))
    # the separator and the sentence are the console's own constants; the parts are escaped by `format`
    place_ = Markup("، " if lang == "ar" else ", ").join(parts) if parts else WORDS[lang]["anything"]  # noqa: S704
    return Markup(WORDS[lang]["waits_for_gap"]).format(place=place_)  # noqa: S704
