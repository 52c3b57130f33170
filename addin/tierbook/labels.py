"""Every word the workbook shows that code chooses: sheet titles, column headers and the
names of the engine's codes, in English and Russian.

The engine speaks English codes ("VIP", "one-time", "current VIP"); they are translated
here, at the edge, and translated back when a workbook is read again. The prose a
manager reads (segment strategies, call scripts, headings, the alert sentence) lives in
the templates' "Texts" sheets, so it can be reworded in Excel (see templates.py).
"""

from __future__ import annotations

import re

from types import MappingProxyType
from typing import Mapping

from .errors import SettingsError

LANGS = ("en", "ru")

#: The call-list segments, in sheet order. Membership rules are in sheets.segment_members.
SEGMENTS = ("VIP", "Good", "Regular", "new", "one-time", "potential", "lost VIP")

#: Sheet titles (at most 31 characters, no []:*?/\).
SHEETS: Mapping[str, Mapping[str, str]] = MappingProxyType({
    "en": MappingProxyType({
        "summary": "Summary", "contact_plan": "Contact plan", "ledger": "VIP ledger", "monthly_vip": "Monthly VIP",
        "customers": "Customers", "issues": "Input issues",
        "segment:VIP": "VIP", "segment:Good": "Good", "segment:Regular": "Regular", "segment:new": "New",
        "segment:one-time": "One-time", "segment:potential": "Potential", "segment:lost VIP": "Lost VIP",
        "movement": "Movement", "reactivation": "Reactivation", "reactivation_results": "Reactivation results",
        "contact_log": "Contact log", "kept_notes": "Kept notes",
    }),
    "ru": MappingProxyType({
        "summary": "Сводка", "contact_plan": "План контактов", "ledger": "Реестр VIP", "monthly_vip": "VIP по месяцам",
        "customers": "Клиенты", "issues": "Ошибки ввода",
        "segment:VIP": "VIP", "segment:Good": "Хорошие", "segment:Regular": "Обычные", "segment:new": "Новые",
        "segment:one-time": "Разовые", "segment:potential": "Потенциальные", "segment:lost VIP": "Потерянные VIP",
        "movement": "Движение", "reactivation": "Возврат клиентов", "reactivation_results": "Итоги возврата",
        "contact_log": "Журнал контактов", "kept_notes": "Сохранённые заметки",
    }),
})

#: Excel table (ListObject) names: ASCII and the same in every language, so formulas
#: such as =COUNTIFS(tbCustomers[[tier]],"VIP") keep working in a translated workbook.
TABLE_NAMES: Mapping[str, str] = MappingProxyType({
    "customers": "tbCustomers", "monthly_vip": "tbMonthlyVIP", "ledger": "tbLedger", "issues": "tbIssues",
    "contact_plan": "tbContactPlan", "plan_classes": "tbPlanClasses", "transactions": "tbTransactions",
    "tiers": "tbTiers", "lifecycles": "tbLifecycles", "figures": "tbFigures", "concentration": "tbConcentration",
    "pareto": "tbPareto", "flow": "tbLedgerFlow", "kept_notes": "tbKeptNotes",
    "movement_matrix": "tbMovementMatrix", "movement_flow": "tbTierFlow", "tier_sizes": "tbTierSizes",
    "tier_changes": "tbTierChanges", "reactivation": "tbReactivation", "variant_texts": "tbVariantTexts",
    "reactivation_results": "tbReactivationResults", "managers": "tbManagerCalls",
    "segment:VIP": "tbVIP", "segment:Good": "tbGood", "segment:Regular": "tbRegular", "segment:new": "tbNew",
    "segment:one-time": "tbOneTime", "segment:potential": "tbPotential", "segment:lost VIP": "tbLostVIP",
})

#: Russian headers of the Customers sheet (under "en" the headers are the column names
#: themselves, segment.CUSTOMER_COLUMNS). The reader may use these as header aliases.
CUSTOMER_HEADERS_RU: Mapping[str, str] = MappingProxyType({
    "customer": "Клиент",
    "tier": "Уровень",
    "lifecycle": "Жизненный цикл",
    "quadrant": "Объём и стоимость",
    "size_tier": "Размер заказов",
    "rhythm": "Ритм покупок",
    "cycle_days": "Цикл, дней",
    "next_purchase": "Ожидаемая покупка",
    "remind_on": "Напомнить",
    "vip_months": "Месяцев VIP",
    "first_purchase": "Первая покупка",
    "last_purchase": "Последняя покупка",
    "revenue": "Выручка",
    "payments": "Платежей",
    "units": "Единиц",
    "profit": "Прибыль",
    "purchase_days": "Дней с покупками",
    "window_value": "Значение за окно",
    "tier_whole_period": "Уровень за весь период",
    "lost_vip": "Потерянный VIP",
    "contacts_per_year": "Контактов в год",
    "follow_up_on": "Звонок после покупки",
    "owner": "Отдел",
    "manager": "Менеджер",
    "consent": "Согласие",
    "channel": "Канал",
    "contact_time": "Время связи",
    "email": "Эл. почта",
    "phone": "Телефон",
    "consent_status": "Согласие (да / нет / неизвестно)",
    "action": "Следующее действие",
    "action_reason": "Причина",
    "action_due": "Срок",
    "average_order": "Средний заказ",
})

#: Headers of every other table, by field key. A key missing under "en" is shown as is.
HEADERS: Mapping[str, Mapping[str, str]] = MappingProxyType({
    "en": MappingProxyType({
        # call lists and the contact plan
        "segment": "Segment", "last_purchase": "Last purchase", "first_purchase": "First purchase",
        "revenue": "Revenue", "payments": "Payments", "profit": "Profit", "next_contact": "Next contact",
        "task": "Task", "channel": "Channel", "contact_time": "Contact time", "phone": "Phone", "email": "Email",
        "customer": "Customer", "manager": "Manager", "tier": "Tier", "lifecycle": "Lifecycle",
        "date": "Date", "script": "Script", "contacts_per_year": "Contacts a year", "customers": "Customers",
        "with_consent": "With consent", "in_plan": "In the plan", "owner": "Owner",
        "vip_months": "VIP months", "months_silent": "Months silent", "last_vip": "Last VIP month",
        # ledger
        "first_vip": "First VIP month", "status": "Status", "left_on": "Left in",
        # summary
        "customer_share": "Share of customers", "revenue_share": "Share of revenue",
        "profit_share": "Share of profit", "figure": "Figure", "value": "Value",
        "metric": "Metric", "customers_pct": "Share of customers (ranked by revenue)",
        "cumulative_revenue": "Cumulative share of revenue", "month": "Month", "entered": "Entered",
        "left": "Left", "size": "Ledger size",
        "basis": "Basis", "period": "Period", "top1_share": "Top 1 customer", "top3_share": "Top 3 customers",
        "top5_share": "Top 5 customers", "customers_for_80pct": "Customers giving 80%",
        "herfindahl": "Herfindahl index",
        # movement between tiers
        "tier_before": "Tier last month", "VIP": "VIP", "Good": "Good", "Regular": "Regular",
        "inactive": "Inactive", "previous_tier": "Previous tier", "changed_on": "Changed in",
        # reactivation
        "variant": "Variant", "message": "Message", "stratum": "Stratum (manager / order size)",
        "planned_on": "Planned for", "contacted": "Contacted", "converted": "Converted", "rate": "Conversion rate",
        "rate_low": "95% low", "rate_high": "95% high", "revenue_after": "Revenue after contact",
        "note": "Note",
        "overdue_since": "Overdue since", "reason": "Why", "consent": "Consent",
        # the why and the work of a call list; the calls per manager (Summary)
        "next_purchase": "Expected purchase", "cycle_days": "Usual cycle, days", "average_order": "Average order",
        "done": "Done", "outcome": "Outcome", "last_contact": "Last contact", "call_list": "Call list",
        "overdue": "Overdue", "due_this_week": "Due this week", "later": "Later", "calls": "All calls",
    }),
    "ru": MappingProxyType({
        "segment": "Сегмент", "last_purchase": "Последняя покупка", "first_purchase": "Первая покупка",
        "revenue": "Выручка", "payments": "Платежей", "profit": "Прибыль", "next_contact": "Следующий контакт",
        "task": "Задача", "channel": "Канал", "contact_time": "Время связи", "phone": "Телефон",
        "email": "Эл. почта", "customer": "Клиент", "manager": "Менеджер", "tier": "Уровень",
        "lifecycle": "Жизненный цикл", "date": "Дата", "script": "Сценарий", "contacts_per_year": "Контактов в год",
        "customers": "Клиентов", "with_consent": "С согласием", "in_plan": "В плане", "owner": "Отдел",
        "vip_months": "Месяцев VIP", "months_silent": "Месяцев без покупок", "last_vip": "Последний месяц VIP",
        "first_vip": "Первый месяц VIP", "status": "Статус", "left_on": "Выбыл в",
        "customer_share": "Доля клиентов", "revenue_share": "Доля выручки",
        "profit_share": "Доля прибыли", "figure": "Показатель", "value": "Значение",
        "metric": "Показатель", "customers_pct": "Доля клиентов (по убыванию выручки)",
        "cumulative_revenue": "Накопленная доля выручки", "month": "Месяц", "entered": "Вошли",
        "left": "Вышли", "size": "Размер реестра",
        "basis": "База", "period": "Период", "top1_share": "Доля крупнейшего", "top3_share": "Доля топ-3",
        "top5_share": "Доля топ-5", "customers_for_80pct": "Клиентов на 80%", "herfindahl": "Индекс Херфиндаля",
        "rank": "Место", "sheet": "Лист", "row": "Строка", "column": "Столбец", "problem": "Проблема",
        "tier_before": "Уровень в прошлом месяце", "VIP": "VIP", "Good": "Хороший", "Regular": "Обычный",
        "inactive": "Неактивный", "previous_tier": "Прежний уровень", "changed_on": "Изменился в",
        "variant": "Вариант", "message": "Сообщение", "stratum": "Группа (менеджер / размер заказа)",
        "planned_on": "Дата контакта", "contacted": "Контактов", "converted": "Купили", "rate": "Конверсия",
        "rate_low": "95%: от", "rate_high": "95%: до", "revenue_after": "Выручка после контакта",
        "note": "Примечание",
        "overdue_since": "Просрочено с", "reason": "Почему", "consent": "Согласие",
        "next_purchase": "Ожидаемая покупка", "cycle_days": "Обычный цикл, дней", "average_order": "Средний заказ",
        "done": "Сделано", "outcome": "Результат", "last_contact": "Последний контакт",
        "call_list": "Список звонков",
        "overdue": "Просрочено", "due_this_week": "На этой неделе", "later": "Позже", "calls": "Всего звонков",
    }),
})

#: The engine's codes, by column, in Russian (English shows the codes themselves).
VALUES_RU: Mapping[str, Mapping[str, str]] = MappingProxyType({
    "tier": MappingProxyType({"VIP": "VIP", "Good": "Хороший", "Regular": "Обычный"}),
    "lifecycle": MappingProxyType({
        "new": "новый", "one-time": "разовый", "permanent": "постоянный", "occasional": "эпизодический",
        "potential": "потенциальный", "unprofitable": "нерентабельный"}),
    "quadrant": MappingProxyType({
        "high volume, low value": "большой объём, низкая стоимость",
        "low volume, high value": "малый объём, высокая стоимость",
        "low volume, low value": "малый объём, низкая стоимость",
        "high volume, high value": "большой объём, высокая стоимость"}),
    "size_tier": MappingProxyType({"huge": "огромные", "medium": "средние", "small": "мелкие", "one-time": "разовый"}),
    "channel": MappingProxyType({"email": "эл. почта", "phone": "телефон", "sms": "СМС"}),
    "rhythm": MappingProxyType({"regular": "регулярный", "chaotic": "хаотичный", "yearly": "ежегодный"}),
    "owner": MappingProxyType({"acquisition": "привлечение", "account management": "ведение клиентов"}),
    "status": MappingProxyType({"current VIP": "текущий VIP", "dropped out": "выбыл"}),
    "segment": MappingProxyType({
        "VIP": "VIP", "Good": "Хороший", "Regular": "Обычный", "new": "новый", "one-time": "разовый",
        "potential": "потенциальный", "lost VIP": "потерянный VIP", "permanent": "постоянный",
        "occasional": "эпизодический", "unprofitable": "нерентабельный"}),
})
VALUES_RU = MappingProxyType({
    **VALUES_RU, "tier_whole_period": VALUES_RU["tier"],
    "consent_status": MappingProxyType({"yes": "да", "no": "нет", "unknown": "неизвестно"}),
    "action": MappingProxyType({
        "lost_vip": "позвонить и узнать причину", "margin_review": "пересмотреть маржу",
        "follow_up": "звонок после первой покупки", "reminder": "напоминание", "ask_permission": "спросить согласие",
        "periodic": "плановое сообщение", "no_consent": "не связываться", "no_marketing": "без маркетинга"}),
    "action_reason": MappingProxyType({
        "lost_vip": "потерянный VIP", "unprofitable_big": "нерентабельный крупный клиент",
        "unprofitable_small": "нерентабельный мелкий клиент", "new": "новый клиент",
        "purchase_expected": "ожидается покупка", "contact_plan": "план контактов", "refused": "отказ от контактов"}),
})

#: Small words of the generated rows (task names, row labels).
WORDS: Mapping[str, Mapping[str, str]] = MappingProxyType({
    "en": MappingProxyType({
        "task.follow_up": "follow-up call after the first purchase",
        "task.reminder": "reminder before the expected purchase",
        "task.lost_vip": "lost VIP: call and ask why",
        "task.periodic": "regular message",
        "task.no_consent": "consent refused: do not contact",
        "task.no_marketing": "unprofitable: no marketing spend",
        "task.ask_permission": "ask for permission to contact (the manager in person)",
        "task.margin_review": "margin review with the customer",
        "reason.lost_vip": "lost VIP", "reason.unprofitable_big": "unprofitable, big account",
        "reason.unprofitable_small": "unprofitable, small account", "reason.new": "new customer",
        "reason.purchase_expected": "purchase expected", "reason.contact_plan": "contact plan",
        "reason.refused": "consent refused",
        "consent.yes": "yes", "consent.no": "no", "consent.unknown": "unknown",
        "row.inactive": "not active in the window",
        "row.all": "All customers",
        "unknown_customer": "unknown customer",
        "kept_notes.note": ("What was written on the call lists for customers who are on none of them now: "
                            "it goes back on a list when the customer does."),
        "left_out": ("{shown} of {total} rows, {order}: Excel holds {limit} rows per sheet, {left} are left out. "
                     "All customers, with every column of Customers: {where}."),
        "left_out.revenue": "the highest revenue first",
        "left_out.first": "the first in the sheet's order",
        "left_out.latest": "the latest months",
        "left_out.where": "the CSV file named like this workbook with \" - customers.csv\", beside it",
        "no_manager": "no manager",
        "month_marker_exit": "×",
        "tier.inactive": "Inactive",
        "done.yes": "yes", "done.no": "no",
        "outcome.reached": "reached", "outcome.no_answer": "no answer", "outcome.call_back": "call back",
        "outcome.not_interested": "not interested", "outcome.ordered": "ordered",
    }),
    "ru": MappingProxyType({
        "task.follow_up": "звонок после первой покупки",
        "task.reminder": "напоминание до ожидаемой покупки",
        "task.lost_vip": "потерянный VIP: позвонить и узнать причину",
        "task.periodic": "плановое сообщение",
        "task.no_consent": "отказ от контактов: не связываться",
        "task.no_marketing": "нерентабельный: без маркетинга",
        "task.ask_permission": "спросить согласие на контакты (лично менеджер)",
        "task.margin_review": "пересмотреть маржу с клиентом",
        "reason.lost_vip": "потерянный VIP", "reason.unprofitable_big": "нерентабельный крупный клиент",
        "reason.unprofitable_small": "нерентабельный мелкий клиент", "reason.new": "новый клиент",
        "reason.purchase_expected": "ожидается покупка", "reason.contact_plan": "план контактов",
        "reason.refused": "отказ от контактов",
        "consent.yes": "да", "consent.no": "нет", "consent.unknown": "неизвестно",
        "row.inactive": "не активны в окне",
        "row.all": "Все клиенты",
        "unknown_customer": "неизвестный клиент",
        "kept_notes.note": ("Что было записано в списках звонков о клиентах, которых сейчас нет ни в одном списке: "
                            "запись вернётся в список вместе с клиентом."),
        "left_out": ("{shown} из {total} строк, {order}: в листе Excel не больше {limit} строк, {left} не вошли. "
                     "Все клиенты со всеми столбцами листа «Клиенты»: {where}."),
        "left_out.revenue": "сначала с наибольшей выручкой",
        "left_out.first": "первые по порядку листа",
        "left_out.latest": "последние месяцы",
        "left_out.where": "CSV-файл рядом с этой книгой, с тем же именем и « - customers.csv» в конце",
        "no_manager": "без менеджера",
        "month_marker_exit": "×",
        "tier.inactive": "Неактивный",
        "done.yes": "да", "done.no": "нет",
        "outcome.reached": "дозвонились", "outcome.no_answer": "нет ответа", "outcome.call_back": "перезвонить",
        "outcome.not_interested": "не интересно", "outcome.ordered": "заказал",
    }),
})


#: The choices of a call list's Done and Outcome columns (codes; words above).
DONE_CHOICES = ("yes", "no")
OUTCOMES = ("reached", "no_answer", "call_back", "not_interested", "ordered")

#: Number formats of the output in each language: the templates' codes → the locale's
#: (dates дд.мм.гггг in Russian; Excel shows the digit separators of the user's locale).
NUMBER_FORMATS: Mapping[str, Mapping[str, str]] = MappingProxyType({
    "en": MappingProxyType({}),
    "ru": MappingProxyType({"yyyy-mm-dd": "dd.mm.yyyy"}),
})


def choices(kind: str, lang: str) -> tuple[str, ...]:
    """The words of a dropdown ("done" or "outcome") in LANG, in order."""
    codes = DONE_CHOICES if kind == "done" else OUTCOMES
    return tuple(word(f"{kind}.{c}", lang) for c in codes)


def choice_code(kind: str, shown: object) -> str:
    """The code behind a dropdown word of either language ("" when it is none of them:
    a word the manager typed is kept as typed by the caller)."""
    text = str(shown).strip().casefold() if shown is not None else ""
    for lang in LANGS:
        for c in (DONE_CHOICES if kind == "done" else OUTCOMES):
            if word(f"{kind}.{c}", lang).casefold() == text:
                return c
    return ""


def check_lang(lang: str) -> str:
    if lang not in LANGS:
        raise SettingsError(f"lang must be one of {', '.join(LANGS)}, got {lang!r}", "lang", lang=lang)
    return lang


def sheet_title(key: str, lang: str) -> str:
    return SHEETS[check_lang(lang)][key]


def customer_header(column: str, lang: str) -> str:
    """The header of a Customers column: the column name in English, translated in Russian."""
    return column if check_lang(lang) == "en" else CUSTOMER_HEADERS_RU.get(column, column)


def header(key: str, lang: str) -> str:
    return HEADERS[check_lang(lang)].get(key, HEADERS["en"].get(key, key))


def value(column: str, code: str, lang: str) -> str:
    """An engine code of COLUMN ("tier", "lifecycle", ...) as shown in LANG."""
    if check_lang(lang) == "en" or not code:
        return code
    return VALUES_RU.get(column, {}).get(code, code)


def code(column: str, shown: str, lang: str) -> str:
    """The engine code behind a value shown in LANG (the inverse of value())."""
    if lang == "en" or not shown:
        return shown
    back = {v: k for k, v in VALUES_RU.get(column, {}).items()}
    return back.get(shown, shown)


def month_label(month: object, lang: str) -> str:
    """A month "YYYY-MM" as shown in LANG: 2025-10 in English, 10.2025 in Russian
    (anything else as it is)."""
    text = "" if month is None else str(month)
    found = re.fullmatch(r"(\d{4})-(\d{2})", text)
    if found is None or check_lang(lang) == "en":
        return text
    return f"{found[2]}.{found[1]}"


#: The manager part of a reactivation stratum without a manager (reactivation._strata).
NO_MANAGER_STRATUM = "(none)"


def stratum_label(stratum: str, lang: str) -> str:
    """A reactivation stratum "manager / size" in LANG (the size tier translated)."""
    manager, sep, size = str(stratum).rpartition(" / ")
    if not sep or check_lang(lang) == "en":
        return str(stratum)
    if manager == NO_MANAGER_STRATUM:
        manager = f"({word('no_manager', lang)})"
    return f"{manager} / {value('size_tier', size, lang)}"


def stratum_code(shown: str, lang: str) -> str:
    """The stratum behind a stratum_label (read back from a plan sheet in LANG)."""
    manager, sep, size = str(shown).rpartition(" / ")
    if not sep or lang == "en":
        return str(shown)
    if manager == f"({word('no_manager', lang)})":
        manager = NO_MANAGER_STRATUM
    return f"{manager} / {code('size_tier', size, lang)}"


def word(key: str, lang: str) -> str:
    return WORDS[check_lang(lang)][key]


def customer_header_aliases() -> dict[str, str]:
    """Translated Customers headers → column names, for a reader's header aliases."""
    return {ru.casefold(): column for column, ru in CUSTOMER_HEADERS_RU.items()}


#: The input report's problems in Russian: (English pattern, Russian text); the first
#: match wins, {groups} are kept. A problem no pattern knows stays in English.
PROBLEMS_RU: tuple[tuple[str, str], ...] = (
    (r"not a number", "не число"),
    (r"not a date", "не дата"),
    (r"Excel error value", "ошибка Excel в ячейке"),
    (r"not yes or no", "не «да» и не «нет»"),
    (r"not email, sms or phone", "не эл. почта, СМС или телефон"),
    (r"not a variant \((.*)\)", r"не вариант теста (\1)"),
    (r"customer is empty", "клиент не указан"),
    (r"date is empty", "дата не указана"),
    (r"amount is empty", "сумма не указана"),
    (r"variant is empty", "вариант не указан"),
    (r"(\w+) is empty", r"не заполнено: \1"),
    (r"blank row, skipped", "пустая строка, пропущена"),
    (r"totals row, skipped", "строка итогов, пропущена"),
    (r"repeated header row, skipped", "повтор строки заголовков, пропущена"),
    (r"customer is not in the reactivation plan, not counted", "клиента нет в плане возврата, не учтён"),
    (r"variant (\S+) is not the planned variant (\S+), not counted",
     r"вариант \1 — не назначенный клиенту вариант \2, не учтён"),
)


def problem(text: str, lang: str) -> str:
    """A problem of the input report (read.py's words) in LANG: ", left empty" and the
    known problems are translated; anything else is shown as it is."""
    if check_lang(lang) == "en" or not text:
        return text
    import re

    head, left_empty = (text[:-len(", left empty")], True) if text.endswith(", left empty") else (text, False)
    for pattern, russian in PROBLEMS_RU:
        if re.fullmatch(pattern, head):
            head = re.sub(f"^{pattern}$", russian, head)
            break
    return head + (", оставлено пустым" if left_empty else "")
