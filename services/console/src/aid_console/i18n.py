"""Arabic and English: the words of the console, and numbers and money formatted for the chosen locale (Babel's
CLDR data — Arabic digits and separators where the locale uses them)."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from babel.numbers import format_compact_decimal, format_decimal, format_percent
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
        "language": "العربية", "signin_help": "Paste the bearer token you were given (crisisaid token).",
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
        "language": "English", "signin_help": "الصق رمز الدخول الذي حصلت عليه (crisisaid token).",
        "all": "الكل", "live": "مباشر", "live_help": "أحداث التمويل لحظة حدوثها (الأحدث أولاً).",
        "plans": "الخطط", "plan": "الخطة", "cluster": "المجموعة القطاعية", "outside_plans": "خارج كل الخطط",
        "fts_published": "ما نشرته خدمة التتبع المالي", "difference": "الفرق",
        "plans_help": "أرقام خطط البلد ومجموعاتها القطاعية كما تنشرها خدمة التتبع المالي (FTS)، "
        "محسوبة من سجل هذه المنصة.",
        "legend_funded": "المموَّل (المخصص للمشاريع)", "legend_pool": "غير المخصص: موقَّع وينتظر في صناديق التجميع",
        "legend_rest": "غير المغطّى",
        "nothing_moved": "لم تُوقَّع أو تُستلم أي أموال حتى هذا التاريخ. اختر تاريخاً لاحقاً، أو امسحه لترى أرقام اليوم.",
        "no_projects": "لا يوجد مشروع يطابق هذه المرشحات. امسح أحدها لترى المزيد.",
        "figures_in": "الأرقام بالدولار الأمريكي؛ مرّر المؤشر فوق الرقم لترى المبلغ الدقيق.",
    },
}  # fmt: skip


# The values the services answer with (statuses, kinds, roles), as a person reads them.
TERMS = {
    "en": {
        "pledged": "pledged", "signed": "signed", "cancelled": "cancelled", "planned": "planned", "active": "active",
        "closed": "closed", "allocation": "allocation", "reversal": "reversal", "implementing": "implementing",
        "accountable": "accountable", "funding": "funding", "pending": "pending", "failed": "failed, retrying",
        "delivered": "delivered", "dead": "not delivered", "disabled": "disabled",
    },
    "ar": {
        "pledged": "متعهَّد به", "signed": "موقَّع", "cancelled": "ملغى", "planned": "مخطط", "active": "نشط",
        "closed": "مغلق", "allocation": "تخصيص", "reversal": "استرداد", "implementing": "منفِّذ",
        "accountable": "مسؤول", "funding": "ممول", "pending": "قيد الانتظار", "failed": "فشل، ستُعاد المحاولة",
        "delivered": "تم التسليم", "dead": "لم يُسلَّم", "disabled": "معطَّل",
    },
}  # fmt: skip


def term(value: object, lang: str) -> str:
    """A status, kind or role in the page's language (the value itself if it has no word yet)."""
    return TERMS[lang].get(str(value), str(value))


def ltr(value: object) -> Markup:
    """Text that reads left to right whatever the page's direction — amounts (a minus sign), codes (SY-NW-…),
    dates and times — isolated so that right-to-left Arabic around it cannot reorder it."""
    return Markup('<bdi dir="ltr">{}</bdi>').format("" if value is None else value)


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


def name_in(obj: dict, lang: str, field: str = "title") -> str:
    """An object's name in the chosen language when it has one, else its English name."""
    return (obj.get("names") or {}).get(lang) or obj.get(field) or obj.get("name") or ""
