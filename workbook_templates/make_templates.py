"""Write the workbook templates of tierbook into this folder.

    python workbook_templates/make_templates.py [DIR]

The templates are ordinary .xlsx files: restyle or reword them in Excel and tierbook
uses your version. Each has

- a layout sheet (the first sheet). Text cells may hold {{key}} placeholders, filled
  from the "Texts" sheet in the output language (or by tierbook: {{subtitle}} etc.);
- defined names the filler looks for:
    tb_<table>      the marker row of a table: one field key per cell (reorder or
                    delete cells to change the columns); the row below it is the style
                    row (number format, font, fill, alignment of each column). The key
                    "months" (VIP ledger) becomes one column per month;
    tb_chart_<name> the top-left cell of a chart;
    tb_overdue      a cell whose font and fill mark overdue contact dates;
    tb_entry, tb_exit  cells whose font and fill mark ledger entries and exits;
- a "Texts" sheet: key, en, ru. Words in {braces} inside a text are filled in by
  tierbook ({customers}, {as_of}, ...); keep them when rewording.

The prose (segment strategies and call scripts) restates DOMAIN.md and the source
articles in shared/seeds: 000 (classes, 6–18 messages a year, potential customers),
001 (VIP / Good / Regular, the monthly VIP tables, lost VIPs), 002 (volume × value,
the follow-up call of a new customer), 003 (reminders before the expected purchase,
consent) and 004 (one-time buyers: soft reactivation in steps; the disease of three
clients).
"""

from __future__ import annotations

import sys
from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.workbook.defined_name import DefinedName
from openpyxl.worksheet.table import Table, TableStyleInfo

HERE = Path(__file__).resolve().parent

NAVY = "1F3864"
GREY = "595959"
TEXT_FILL = PatternFill("solid", fgColor="F2F2F2")
ALERT_FILL = PatternFill("solid", fgColor="FCE4D6")
RED_FILL = PatternFill("solid", fgColor="FFC7CE")
RED_FONT = Font(color="9C0006")
GREEN_FILL = PatternFill("solid", fgColor="C6EFCE")
WORK_FILL = PatternFill("solid", fgColor="FFF2CC")  # the cells a manager fills in
GREEN_FONT = Font(color="006100", bold=True)
THIN = Side(style="thin", color="BFBFBF")

DATE = "yyyy-mm-dd"
MONEY = "#,##0.00"
COUNT = "#,##0"
SHARE = "0.0%"
DAYS = "0.0"

COMPANY = {"company": ("Your Company", "Ваша компания")}
OVERDUE = {"overdue_legend": ("Red date: the contact was due before the analysis date {as_of} (not today's date: an "
                               "old export is judged at its own date)",
                               "Красная дата: контакт был нужен раньше даты анализа {as_of} (а не сегодняшней: "
                               "старая выгрузка оценивается на свою дату)")}

# --------------------------------------------------------------------------- the prose

SEGMENT_TEXTS = {
    "VIP": (
        ("VIP customers — call list", "VIP-клиенты — список для звонков"),
        ("VIP customers bring the company's main revenue: large deliveries, privileges, invitations to corporate "
         "events. Entrust them only to the most experienced managers; decisions about them are often taken at the "
         "top. Watch the margin: knowing their strength, VIPs push for ever better terms, down to selling at cost — "
         "a VIP can pay huge sums while the profit falls to zero. Losing one hits both the budget and the company's "
         "image, so notice early when one goes quiet. Big volume and high value: closeness and loyalty.",
         "VIP-клиенты дают основную выручку компании: крупные поставки, льготы, приглашения на корпоративные "
         "мероприятия. Доверяйте их только самым опытным менеджерам; решения по ним часто принимаются наверху. "
         "Следите за маржой: понимая свою силу, VIP-клиенты добиваются всё более выгодных условий, вплоть до "
         "продажи по себестоимости — клиент может платить огромные суммы, а прибыль упадёт до нуля. Уход такого "
         "клиента бьёт и по бюджету, и по имиджу компании, поэтому вовремя замечайте, когда он затихает. Большой "
         "объём и высокая стоимость: близость и лояльность."),
        ("A senior manager calls in person. Thank them for the work, ask how the last delivery went and what they "
         "plan for the next quarter. Offer privileges (priority delivery, personal terms, an invitation) rather "
         "than discounts; check any new price request against the margin before agreeing.",
         "Звонит лично старший менеджер. Поблагодарите за работу, спросите, как прошла последняя поставка и что "
         "планируется в следующем квартале. Предлагайте привилегии (приоритетная поставка, персональные условия, "
         "приглашение), а не скидки; любой новый запрос по цене сверяйте с маржой, прежде чем соглашаться."),
    ),
    "Good": (
        ("Good customers — call list", "Хорошие клиенты — список для звонков"),
        ("Good customers are just short of serious orders: they only need a push. Former VIPs who dropped out of "
         "the VIP ledger are here too. Work with them almost as well as with VIPs, with a few extra indulgences and "
         "advantages.",
         "Хорошие клиенты — в шаге от серьёзных заказов, их нужно только подтолкнуть. Сюда же попадают бывшие VIP, "
         "выбывшие из реестра. Работайте с ними почти так же, как с VIP, с небольшими дополнительными поблажками и "
         "преимуществами."),
        ("Call to push the next order: tell them what similar customers buy and propose a larger or more regular "
         "order with an advantage (a volume bonus, deferred payment). Former VIPs: ask what changed and what would "
         "bring the volumes back.",
         "Позвоните, чтобы подтолкнуть следующий заказ: расскажите, что покупают похожие клиенты, предложите более "
         "крупный или регулярный заказ с преимуществом (бонус за объём, отсрочка платежа). Бывшим VIP: спросите, "
         "что изменилось и что вернёт прежние объёмы."),
    ),
    "Regular": (
        ("Regular customers — call list", "Обычные клиенты — список для звонков"),
        ("Regular customers are most of the base and the turnover; working with them is the managers' everyday "
         "routine. Every regular customer believes they deserve to be a VIP: there are no bad customers, only good, "
         "very good and excellent ones. Keep the service reliable and remind them before their usual purchase.",
         "Обычные клиенты — большинство базы и основной оборот; работа с ними — повседневная жизнь менеджеров. "
         "Каждый обычный клиент считает, что достоин быть VIP: плохих клиентов нет, есть хорошие, очень хорошие и "
         "отличные. Держите сервис надёжным и напоминайте о себе до их обычной покупки."),
        ("A friendly routine call or message before their usual purchase date: confirm their needs, mention new "
         "products and current offers, take the order.",
         "Дружелюбный плановый звонок или сообщение до обычной даты покупки: уточните потребности, расскажите о "
         "новинках и текущих предложениях, примите заказ."),
    ),
    "new": (
        ("New customers — follow-up calls", "Новые клиенты — звонки после первой покупки"),
        ("The first purchase is the decisive moment. A new customer must know they made the right decision, for "
         "themselves and for their company. Call once they have had time to try the product (the next contact "
         "date): discuss their experience, solve any problem, remind them of the reasons and benefits of their "
         "purchase and ask when they expect to order again. The acquisition team owns the customer until the "
         "second purchase, then hands them over to account management.",
         "Первая покупка — решающий момент. Новый клиент должен знать, что принял верное решение — для себя и для "
         "своей компании. Позвоните, когда у него было время оценить товар (дата следующего контакта): обсудите "
         "опыт, решите проблемы, напомните причины и выгоды покупки, спросите, когда ждать повторного заказа. До "
         "второй покупки клиента ведёт отдел привлечения, затем он переходит в отдел работы с клиентами."),
        ("\"Hello, this is <name> from <company>. You received your order on <date>: how is it working for you? Is "
         "there anything we should fix?\" Solve it. Remind them why they chose you and name the benefits again. "
         "Ask: \"When will you need the next delivery?\"",
         "«Здравствуйте, это <имя> из <компания>. Вы получили заказ <дата> — как он вам? Есть ли что-то, что "
         "нужно исправить?» Решите проблему. Напомните, почему клиент выбрал вас, и ещё раз назовите выгоды. "
         "Спросите: «Когда вам понадобится следующая поставка?»"),
    ),
    "one-time": (
        ("One-time buyers — soft reactivation", "Разовые покупатели — мягкое возвращение"),
        ("About 90% of a customer base bought once and never came back, often only because they forgot you and "
         "nobody reminded them: that is 90% of your potential profit. Do not rush to the phone to push a sale. "
         "Remind them gently, in several steps: warm SMS or emails, a free sample or a free consultation, a word "
         "that you missed them, news of products their users praise; after a few messages, a discount on the next "
         "purchase. Try up to five message variants and keep the one that converts best.",
         "Около 90% клиентской базы — те, кто купил один раз и больше не вернулся, часто просто потому, что о вас "
         "забыли, а вы не напомнили: это 90% вашей потенциальной прибыли. Не бросайтесь обзванивать и настаивать "
         "на покупке. Напоминайте о себе аккуратно, поэтапно, в несколько приёмов: тёплые СМС и письма, бесплатный "
         "пробник или консультация, сожаление, что клиент пропал, новинки с хорошими отзывами; после нескольких "
         "сообщений — скидка на следующую покупку. Проверьте до пяти вариантов сообщений и оставьте лучший."),
        ("Step 1: a warm message — we miss you, here is what is new. Step 2: an invitation — a free sample or a "
         "free consultation. Step 3: new products customers praise. Step 4: a personal discount on the next "
         "purchase. Never a hard sell.",
         "Шаг 1: тёплое сообщение — мы скучаем, вот что нового. Шаг 2: приглашение — бесплатный пробник или "
         "консультация. Шаг 3: новинки, которые хвалят покупатели. Шаг 4: персональная скидка на следующую "
         "покупку. Никакого давления."),
    ),
    "potential": (
        ("Potential customers — keep in touch", "Потенциальные клиенты — напоминать о себе"),
        ("Potential customers need the product but are not buying now; their situation can change at any time. "
         "Do not confuse them with unprofitable customers. Remind them about 6 times a year, for up to 5 years "
         "(Prof. Siegfried Vögele's strategy): they show whether the chosen strategy works and build the long-term "
         "effect of direct marketing.",
         "Потенциальные клиенты нуждаются в товаре, но не покупают прямо сейчас; ситуация может измениться в любой "
         "момент. Не путайте их с нерентабельными. Напоминайте о себе около 6 раз в год, до 5 лет (стратегия "
         "профессора Зигфрида Фегеле): они проверяют выбранную стратегию и дают долгосрочный эффект прямого "
         "маркетинга."),
        ("A short, useful message about 6 times a year: news, a seasonal offer, an invitation. Ask for nothing in "
         "return and make it easy to reply when the need comes back.",
         "Короткое полезное сообщение около 6 раз в год: новости, сезонное предложение, приглашение. Ничего не "
         "требуйте взамен и дайте возможность легко ответить, когда потребность вернётся."),
    ),
    "lost VIP": (
        ("Lost VIPs — call and ask why", "Потерянные VIP — позвонить и узнать причину"),
        ("Big customers who paid a lot in some month and then stopped paying. Ranking the whole period would hide "
         "them; the monthly VIP tables caught them. Call and find out why they stopped: something did not please "
         "them. Listen, fix what can be fixed and make an offer that brings them back.",
         "Крупные клиенты, которые много платили в каком-то месяце, а потом перестали. Рейтинг за весь период их "
         "бы скрыл; помесячные таблицы VIP их заметили. Позвоните и узнайте, почему они прекратили сотрудничество: "
         "что-то им не понравилось. Выслушайте, исправьте, что можно, и сделайте предложение, которое их вернёт."),
        ("The manager calls in person: \"We noticed we have not worked together since <month>: did something go "
         "wrong?\" Listen without arguing, write the reason down, agree on a concrete next step (a meeting, "
         "corrected terms, a trial order).",
         "Звонит лично менеджер: «Мы заметили, что не работаем вместе с <месяц> — что-то пошло не так?» Выслушайте "
         "без спора, запишите причину, договоритесь о конкретном следующем шаге (встреча, исправленные условия, "
         "пробный заказ)."),
    ),
}

CALL_LIST_TEXTS = {
    **COMPANY,
    "subtitle": ("{customers} customers · as of {as_of} · ranked by {criterion}",
                 "Клиентов: {customers} · на {as_of} · критерий: {criterion}"),
    "strategy_heading": ("Strategy", "Стратегия"),
    "script_heading": ("Call script", "Сценарий звонка"),
    "work_note": ("Done, Outcome and Note are yours: pick from the lists or type a note. The next run into this "
                  "workbook keeps them for each customer (Done only while the task and date stay the same).",
                  "«Сделано», «Результат» и «Примечание» заполняете вы: выберите из списка или напишите. Следующий "
                  "запуск в эту книгу сохранит их по каждому клиенту («Сделано» — пока задача и дата те же)."),
    **OVERDUE,
}
for _segment, (_title, _strategy, _script) in SEGMENT_TEXTS.items():
    CALL_LIST_TEXTS[f"title.{_segment}"] = _title
    CALL_LIST_TEXTS[f"strategy.{_segment}"] = _strategy
    CALL_LIST_TEXTS[f"script.{_segment}"] = _script

SUMMARY_TEXTS = {
    **COMPANY,
    "title": ("Customer segments — summary", "Сегменты клиентов — сводка"),
    "subtitle": ("As of {as_of} (analysis month {month}) · ranked by {criterion} · VIP: the top {share} of each "
                 "month's payers, kept for {window} months",
                 "На {as_of} (месяц анализа {month}) · критерий: {criterion} · VIP: верхние {share} плательщиков "
                 "каждого месяца, в реестре {window} мес."),
    "tiers_heading": ("Tiers: VIP, Good, Regular from the window {period}; customers, revenue and profit are all-time "
                      "totals up to {as_of} (live formulas on the Customers table)",
                      "Уровни: VIP, Хороший, Обычный — по окну {period}; клиенты, выручка и прибыль — итоги за всё "
                      "время по {as_of} (живые формулы по таблице клиентов)"),
    "lifecycles_heading": ("Lifecycle classes on {as_of}; revenue and profit are all-time totals up to {as_of}",
                           "Классы жизненного цикла на {as_of}; выручка и прибыль — итоги за всё время по {as_of}"),
    "concentration_heading": ("Concentration in the window {period}: the disease of three clients",
                              "Концентрация за окно {period}: болезнь трёх клиентов"),
    "alert_names": ("Who: {names}.", "Кто: {names}."),
    "managers_heading": ("Calls per manager at the analysis date {as_of}: overdue (due before it), due this week "
                         "({as_of} – {week_end}), later",
                         "Звонки по менеджерам на дату анализа {as_of}: просрочено (срок раньше), на этой неделе "
                         "({as_of} – {week_end}), позже"),
    "charts_heading": ("Charts", "Диаграммы"),
    "flow_heading": ("VIP ledger: entries and exits per month", "Реестр VIP: вошли и вышли по месяцам"),
    "pareto_heading": ("Pareto curve: customers ranked by all-time revenue up to {as_of}",
                       "Кривая Парето: клиенты по убыванию выручки за всё время по {as_of}"),
    "alert_on": ("Alert — the disease of three clients: {reasons}. If one of them leaves, it can ruin the company: "
                 "attract smaller and, above all, new customers.",
                 "Тревога — болезнь трёх клиентов: {reasons}. Уход одного из них может обернуться крахом для "
                 "компании: привлекайте мелких и, главное, новых клиентов."),
    "alert_off": ("No concentration alert: the top 3 customers give {top3} of {basis} (alert at {top3_alert}) and "
                  "the largest gives {top1} (alert at {top1_alert}).",
                  "Концентрация в норме: три крупнейших клиента дают {top3} {basis} (тревога от {top3_alert}), "
                  "крупнейший — {top1} (тревога от {top1_alert})."),
    "reason_top3": ("the top 3 customers give {top3} of {basis} (alert at {top3_alert})",
                    "три крупнейших клиента дают {top3} {basis} (тревога от {top3_alert})"),
    "reason_top1": ("one customer gives {top1} of {basis} (alert at {top1_alert})",
                    "один клиент даёт {top1} {basis} (тревога от {top1_alert})"),
    "basis.revenue": ("revenue", "выручки"),
    "basis.profit": ("profit", "прибыли"),
    "criterion.revenue": ("revenue", "выручка"),
    "criterion.payments": ("number of payments", "число платежей"),
    "criterion.units": ("units shipped", "отгруженные единицы"),
    "criterion.profit": ("profit", "прибыль"),
    "chart.tiers": ("Customers and revenue per tier", "Клиенты и выручка по уровням"),
    "chart.pareto": ("Pareto curve: cumulative share of revenue", "Кривая Парето: накопленная доля выручки"),
    "chart.flow": ("VIP ledger: entries and exits per month", "Реестр VIP: вошли и вышли по месяцам"),
}

LEDGER_TEXTS = {
    **COMPANY,
    "title": ("VIP ledger", "Реестр VIP"),
    "subtitle": ("{customers} customers were VIP in at least one month · {current} current VIPs (a VIP month within "
                 "the last {window} months) · analysis month {month}",
                 "VIP хотя бы в одном месяце: {customers} · текущих VIP: {current} (VIP-месяц за последние {window} "
                 "мес.) · месяц анализа {month}"),
    "legend_heading": ("Legend:", "Обозначения:"),
    "entry_legend": ("Entered the ledger", "Вошёл в реестр"),
    "exit_legend": ("× Left the ledger", "× Вышел из реестра"),
    "rank_note": ("Numbers are the customer's rank in that month's VIP table.",
                  "Числа — место клиента в таблице VIP этого месяца."),
}

CONTACT_PLAN_TEXTS = {
    **COMPANY,
    "title": ("Contact plan", "План контактов"),
    "subtitle": ("{tasks} contacts with {customers} customers · as of {as_of} · only customers who agreed to be "
                 "contacted, on their channel and at their time",
                 "Контактов: {tasks}, клиентов: {customers} · на {as_of} · только клиенты, давшие согласие, по их "
                 "каналу и в их время"),
    "excluded": ("Not in this plan: customers who refused consent — {no_consent}; unprofitable customers, who get no "
                 "marketing spend — {no_marketing}. Customers whose consent is unknown — {unknown} — are in it: the "
                 "manager asks them for permission personally. One next action per customer; a task due before "
                 "{as_of} is dated {as_of} and shows since when it is overdue.",
                 "Не включены в план: клиенты, отказавшиеся от контактов, — {no_consent}; нерентабельные клиенты, на "
                 "которых не тратим маркетинг, — {no_marketing}. Клиенты, чьё согласие неизвестно, — {unknown} — в "
                 "плане: менеджер лично спрашивает у них разрешения. Одно следующее действие на клиента; задача со "
                 "сроком до {as_of} стоит на {as_of} и показывает, с какого дня она просрочена."),
    "classes_note": ("A copy of the setting contacts_per_year: change it in the settings (tierbook.ini or the "
                     "Settings sheet), not here; the next run uses it.",
                     "Копия настройки contacts_per_year: меняйте её в настройках (tierbook.ini или лист настроек), "
                     "а не здесь; следующий запуск её применит."),
    "classes_heading": ("Messages per year by lifecycle class (seed 000: 6–18 a year)",
                        "Сообщений в год по классам жизненного цикла (6–18 в год)"),
    "plan_heading": ("Who to contact, when, how and with which script",
                     "Кому, когда, как и с каким сценарием звонить"),
    **OVERDUE,
    "script.follow_up": ("Ask about the first experience, solve any problem, remind them of the benefits, ask when "
                         "they will order again.",
                         "Спросите о первом опыте, решите проблемы, напомните о выгодах, спросите о следующем заказе."),
    "script.reminder": ("Remind them before their usual purchase, on their channel and at their time: care, not "
                        "pestering.",
                        "Напомните о себе до обычной покупки, по их каналу и в их время: забота, а не назойливость."),
    "script.ask_permission": ("The manager calls in person (not a mailing): ask whether the customer agrees to "
                              "receive messages, on which channel and at what time; note the answer in the data.",
                              "Менеджер звонит лично (не рассылка): спросите, согласен ли клиент получать сообщения, "
                              "по какому каналу и в какое время; отметьте ответ в данных."),
    "script.margin_review": ("A big account that sells at a loss: review prices, discounts and delivery terms with "
                             "the customer before the next order.",
                             "Крупный клиент, который покупает в убыток: пересмотрите с ним цены, скидки и условия "
                             "поставки до следующего заказа."),
    "script.lost_vip": ("Call in person and ask why they stopped; listen, fix, agree on a next step.",
                        "Позвоните лично и узнайте, почему клиент ушёл; выслушайте, исправьте, договоритесь о шаге."),
    "script.periodic.one-time": ("Soft reactivation, step by step: a warm message, a free sample or consultation, "
                                 "news, then a discount. No hard sell.",
                                 "Мягкое возвращение по шагам: тёплое сообщение, пробник или консультация, "
                                 "новинки, затем скидка. Без давления."),
    "script.periodic.potential": ("A short useful message (news, a seasonal offer); about 6 a year.",
                                  "Короткое полезное сообщение (новости, сезонное предложение); около 6 в год."),
    "script.periodic.occasional": ("A message with news and offers that fit their needs; invite the next order.",
                                   "Сообщение с новинками и предложениями по их потребностям; пригласите к заказу."),
    "script.periodic.permanent": ("A regular touch: news and offers that fit their needs.",
                                  "Плановый контакт: новинки и предложения по их потребностям."),
    "script.periodic.new": ("Welcome message: thank them and tell them how to reach you.",
                            "Приветственное сообщение: поблагодарите и расскажите, как с вами связаться."),
}

HELP = {
    "en": [
        "How to edit this template",
        "Restyle anything in the first sheet: fonts, colours, fills, column widths, texts.",
        "Cells with {{key}} are filled with the text of that key from the Texts sheet, in the output language.",
        "Rows named tb_... (Formulas → Name Manager) hold one field key per cell: reorder or delete these cells to "
        "change the columns; the row below sets each column's format.",
        "Words in {braces} inside a text are filled in by tierbook: keep them when rewording.",
        "Recreate the original with: python workbook_templates/make_templates.py",
    ],
    "ru": [
        "Как изменить этот шаблон",
        "Оформление первого листа можно менять как угодно: шрифты, цвета, заливку, ширину столбцов, тексты.",
        "Ячейки с {{ключом}} заполняются текстом этого ключа с листа Texts на языке результата.",
        "В строках с именами tb_... (Формулы → Диспетчер имён) по одному ключу поля в ячейке: переставьте или "
        "удалите ячейки, чтобы изменить столбцы; строка ниже задаёт формат каждого столбца.",
        "Слова в {фигурных скобках} внутри текста подставляет tierbook: сохраните их при правке.",
        "Исходный вариант: python workbook_templates/make_templates.py",
    ],
}


MOVEMENT_TEXTS = {
    **COMPANY,
    "title": ("Movement between tiers", "Движение между уровнями"),
    "subtitle": ("Analysis month {month} · {customers} customers · {changed} changed tier since {previous}",
                 "Месяц анализа {month} · клиентов: {customers} · сменили уровень с {previous}: {changed}"),
    "matrix_heading": ("Tier transitions: rows are the tier in {previous}, columns the tier in {month}",
                       "Переходы между уровнями: строки — уровень в {previous}, столбцы — уровень в {month}"),
    "flow_heading": ("Entries and exits per tier in {month}", "Вошли в уровень и вышли из него в {month}"),
    "sizes_heading": ("Tier sizes over time", "Размер уровней по месяцам"),
    "sizes_table_heading": ("Customers per tier at the end of each month",
                            "Клиентов в каждом уровне на конец месяца"),
    "changes_heading": ("Each customer's tier, previous tier and the month it last changed",
                        "Уровень каждого клиента, прежний уровень и месяц последнего изменения"),
    "chart.sizes": ("Customers per tier", "Клиентов по уровням"),
}

#: The five message variants of a reactivation test (seed 004: remind softly, in steps;
#: never a hard sell). Reword them here or in the template's Texts sheet.
VARIANT_MESSAGES = {
    "message.A": ("Thank you: \"Thank you for choosing us. We hope the order serves you well. "
                  "If anything is missing, just reply to this message.\"",
                  "Благодарность: «Спасибо, что выбрали нас. Надеемся, заказ вам пригодился. Если чего-то не "
                  "хватает — просто ответьте на это сообщение.»"),
    "message.B": ("A useful tip: \"A short tip on getting the most out of what you bought from us, from our "
                  "specialists. Questions? We offer a free consultation.\"",
                  "Полезный совет: «Короткий совет наших специалистов, как получить больше от вашей покупки. Есть "
                  "вопросы? Мы проводим бесплатную консультацию.»"),
    "message.C": ("A small gift: \"We missed you. Here is a small gift for your next order: a free sample or a "
                  "personal discount, valid for a month.\"",
                  "Небольшой подарок: «Мы скучали. Вот небольшой подарок к следующему заказу: бесплатный пробник "
                  "или персональная скидка, действует месяц.»"),
    "message.D": ("Ask for feedback: \"How did our product work for you? Two minutes of your feedback help us "
                  "serve you better — and we would be glad to hear from you again.\"",
                  "Просьба об отзыве: «Как вам наш товар? Две минуты вашего отзыва помогут нам работать лучше — и мы "
                  "будем рады снова вас услышать.»"),
    "message.E": ("New arrivals: \"New products have arrived that customers like you praise. Take a look — we "
                  "will be happy to advise.\"",
                  "Новинки: «К нам поступили новинки, которые хвалят покупатели вроде вас. Посмотрите — с "
                  "удовольствием подскажем.»"),
}

REACTIVATION_TEXTS = {
    **COMPANY,
    "title": ("One-time buyers — reactivation test", "Разовые покупатели — тест возврата"),
    "subtitle": ("{customers} one-time buyers with consent · {variants} message variants, balanced by manager and "
                 "order size · contact on {planned_on}",
                 "Разовых покупателей с согласием: {customers} · вариантов сообщения: {variants}, поровну по "
                 "менеджерам и размеру заказа · связаться {planned_on}"),
    "seed_line": ("seed: {seed}", "зерно: {seed}"),
    "how": ("Contact each customer with their variant, on their channel and at their time, then record every "
            "contact in the sheet Contact log (customer, date, variant, channel, note) and run Reactivation results. "
            "Planning again keeps these assignments and only adds new one-time buyers.",
            "Свяжитесь с каждым клиентом, используя его вариант, по его каналу и в его время, затем запишите каждый "
            "контакт на лист «Журнал контактов» (клиент, дата, вариант, канал, примечание) и запустите «Итоги "
            "возврата». Повторное планирование сохраняет эти назначения и только добавляет новых разовых "
            "покупателей."),
    "variants_heading": ("Message variants (reword them in the template's Texts sheet)",
                         "Варианты сообщений (формулировки — на листе «Texts» шаблона)"),
    "plan_heading": ("Who gets which variant", "Кому какой вариант"),
    **VARIANT_MESSAGES,
}

REACTIVATION_RESULTS_TEXTS = {
    **COMPANY,
    "title": ("Reactivation test — results", "Тест возврата — итоги"),
    "subtitle": ("{contacts} contacts from the Contact log · a conversion is a purchase within {response_days} days "
                 "after the contact · as of {as_of}",
                 "Контактов в журнале: {contacts} · конверсия — покупка в течение {response_days} дней после "
                 "контакта · на {as_of}"),
    "results_heading": ("Per variant: conversion rate with its 95% confidence interval (Wilson)",
                        "По вариантам: конверсия и её 95% доверительный интервал (Уилсона)"),
    "chart_heading": ("Conversion rate per variant", "Конверсия по вариантам"),
    "log_note": ("Rows of the Contact log with problems are listed in Input issues: {issues}.",
                 "Строки журнала контактов с ошибками — на листе «Ошибки ввода»: {issues}."),
    "chart.rates": ("Conversion rate per variant", "Конверсия по вариантам"),
    "no_contacts": ("No contacts recorded yet: fill in the Contact log sheet, then run the results again.",
                    "Контактов пока нет: заполните лист «Журнал контактов» и запустите итоги снова."),
}


# --------------------------------------------------------------------------- building blocks


def _texts(wb: Workbook, texts: dict[str, tuple[str, str]]) -> None:
    ws = wb.create_sheet("Texts")
    ws.append(["key", "en", "ru"])
    for key, (en, ru) in texts.items():
        ws.append([key, en, ru])
    ws.column_dimensions["A"].width = 28
    ws.column_dimensions["B"].width = 90
    ws.column_dimensions["C"].width = 90
    for row in ws.iter_rows(min_row=2):
        for cell in row:
            cell.alignment = Alignment(wrap_text=True, vertical="top")
    for cell in ws[1]:
        cell.font = Font(bold=True, color="FFFFFF")
        cell.fill = PatternFill("solid", fgColor=NAVY)
    table = Table(displayName="tbTexts", ref=f"A1:C{ws.max_row}")
    table.tableStyleInfo = TableStyleInfo(name="TableStyleLight1", showRowStripes=True)
    ws.add_table(table)
    ws.freeze_panes = "B2"

    help_ws = wb.create_sheet("How to edit")
    for en, ru in zip(HELP["en"], HELP["ru"]):
        help_ws.append([en, ru])
    help_ws["A1"].font = help_ws["B1"].font = Font(bold=True, size=12)
    help_ws.column_dimensions["A"].width = 100
    help_ws.column_dimensions["B"].width = 100
    for row in help_ws.iter_rows():
        for cell in row:
            cell.alignment = Alignment(wrap_text=True, vertical="top")


def _name(wb: Workbook, name: str, ws, ref: str) -> None:
    wb.defined_names[name] = DefinedName(name, attr_text=f"'{ws.title}'!{_absolute(ref)}")


def _absolute(ref: str) -> str:
    from openpyxl.utils.cell import range_boundaries, get_column_letter

    min_col, min_row, max_col, max_row = range_boundaries(ref)
    start = f"${get_column_letter(min_col)}${min_row}"
    if (min_col, min_row) == (max_col, max_row):
        return start
    return f"{start}:${get_column_letter(max_col)}${max_row}"


def _heading(ws, cell: str, text: str, size: int = 12) -> None:
    ws[cell] = text
    ws[cell].font = Font(bold=True, size=size, color=NAVY)


def _table_rows(wb: Workbook, ws, name: str, row: int, columns: list[tuple[str, str | None, dict]],
                style: str = "TableStyleMedium2", first_col: int = 1) -> None:
    """A marker row of field keys at ROW and the style row below it, as a template table."""
    from openpyxl.utils import get_column_letter

    for i, (key, number_format, extra) in enumerate(columns):
        col = first_col + i
        head = ws.cell(row=row, column=col, value=key)
        head.font = Font(bold=True, color="FFFFFF")
        head.fill = PatternFill("solid", fgColor=NAVY)
        numeric = number_format not in (None, "@", DATE) and "alignment" not in extra
        head.alignment = Alignment(wrap_text=True, vertical="center", horizontal="right" if numeric else None)
        body = ws.cell(row=row + 1, column=col)
        if number_format:
            body.number_format = number_format
        for attr, value in extra.items():
            setattr(body, attr, value)
        body.border = Border(bottom=THIN)
    last = get_column_letter(first_col + len(columns) - 1)
    first = get_column_letter(first_col)
    _name(wb, f"tb_{name}", ws, f"{first}{row}:{last}{row}")
    table = Table(displayName=f"tpl_{name}", ref=f"{first}{row}:{last}{row + 1}")
    table.tableStyleInfo = TableStyleInfo(name=style, showRowStripes=True)
    ws.add_table(table)


def _title_block(ws, width: int) -> None:
    ws["A1"] = "{{company}}"
    ws["A1"].font = Font(size=10, color=GREY, bold=True)
    ws["A2"] = "{{title}}"
    ws["A2"].font = Font(size=16, bold=True, color=NAVY)
    ws["A3"] = "{{subtitle}}"
    ws["A3"].font = Font(size=10, italic=True, color=GREY)
    ws.row_dimensions[2].height = 24


def _landscape(ws) -> None:
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_view.showGridLines = False


WRAP_TOP = Alignment(wrap_text=True, vertical="top")
CENTER = Alignment(horizontal="center")

# --------------------------------------------------------------------------- the templates


def call_list(directory: Path) -> Path:
    wb = Workbook()
    ws = wb.active
    ws.title = "Call list"
    columns = [
        ("customer", None, {"font": Font(bold=True)}),
        ("manager", None, {}),
        ("next_contact", DATE, {}),
        ("overdue_since", DATE, {}),
        ("task", None, {}),
        ("reason", None, {}),
        ("done", "@", {"alignment": CENTER, "fill": WORK_FILL}),
        ("outcome", "@", {"fill": WORK_FILL}),
        ("note", "@", {"fill": WORK_FILL}),
        ("next_purchase", DATE, {}),
        ("cycle_days", "0", {}),
        ("average_order", MONEY, {}),
        ("last_purchase", DATE, {}),
        ("last_contact", DATE, {}),
        ("consent", None, {}),
        ("channel", None, {}),
        ("contact_time", None, {}),
        ("phone", "@", {}),
        ("email", None, {}),
        ("revenue", MONEY, {}),
        ("payments", COUNT, {}),
        ("profit", MONEY, {}),
        ("tier", None, {}),
        ("lifecycle", None, {}),
    ]
    _title_block(ws, len(columns))
    _heading(ws, "A5", "{{strategy_heading}}", 11)
    _heading(ws, "H5", "{{script_heading}}", 11)
    ws["A6"] = "{{strategy}}"
    ws["H6"] = "{{script}}"
    for cell in ("A6", "H6"):
        ws[cell].alignment = WRAP_TOP
        ws[cell].fill = TEXT_FILL
    ws.merge_cells("A6:G6")
    ws.merge_cells("H6:N6")
    ws.row_dimensions[6].height = 110
    ws["A8"] = "{{overdue_legend}}"
    ws["A8"].font = RED_FONT
    ws["A8"].fill = RED_FILL
    _name(wb, "tb_overdue", ws, "A8")
    ws["G8"] = "{{work_note}}"
    ws["G8"].font = Font(italic=True, color=GREY)
    ws["G8"].fill = WORK_FILL
    _table_rows(wb, ws, "rows", 10, columns)
    _landscape(ws)
    _texts(wb, CALL_LIST_TEXTS)
    return _save(wb, directory / "call_list.xlsx")


def vip_ledger(directory: Path) -> Path:
    wb = Workbook()
    ws = wb.active
    ws.title = "VIP ledger"
    _title_block(ws, 8)
    ws["A5"] = "{{legend_heading}}"
    ws["A5"].font = Font(bold=True)
    ws["B5"] = "{{entry_legend}}"
    ws["B5"].fill = GREEN_FILL
    ws["B5"].font = GREEN_FONT
    ws.merge_cells("B5:C5")
    ws["D5"] = "{{exit_legend}}"
    ws["D5"].fill = RED_FILL
    ws["D5"].font = RED_FONT
    ws.merge_cells("D5:E5")
    ws["F5"] = "{{rank_note}}"
    ws["F5"].font = Font(italic=True, color=GREY)
    _name(wb, "tb_entry", ws, "B5")
    _name(wb, "tb_exit", ws, "D5")
    columns = [
        ("customer", None, {"font": Font(bold=True)}),
        ("status", None, {}),
        ("first_vip", None, {"alignment": CENTER}),
        ("last_vip", None, {"alignment": CENTER}),
        ("vip_months", COUNT, {"alignment": CENTER}),
        ("left_on", None, {"alignment": CENTER}),
        ("months", "0", {"alignment": CENTER}),
    ]
    _table_rows(wb, ws, "rows", 7, columns)
    _landscape(ws)
    _texts(wb, LEDGER_TEXTS)
    return _save(wb, directory / "vip_ledger.xlsx")


def summary(directory: Path) -> Path:
    wb = Workbook()
    ws = wb.active
    ws.title = "Summary"
    _title_block(ws, 7)
    ws["A5"] = "{{alert}}"
    ws["A5"].font = Font(bold=True, color="833C0B")
    ws["A5"].fill = ALERT_FILL
    ws["A5"].alignment = WRAP_TOP
    ws.merge_cells("A5:G5")
    ws.row_dimensions[5].height = 36
    # counts and money, then the shares: the tiers chart's two series (customer_share,
    # revenue_share) are adjacent columns, one source range in Excel's chart API too
    share_cols = [("customers", COUNT, {}), ("revenue", MONEY, {}), ("profit", MONEY, {}),
                  ("customer_share", SHARE, {}), ("revenue_share", SHARE, {}), ("profit_share", SHARE, {})]
    _heading(ws, "A7", "{{tiers_heading}}")
    _table_rows(wb, ws, "tiers", 8, [("tier", None, {"font": Font(bold=True)})] + share_cols)
    _heading(ws, "A11", "{{lifecycles_heading}}")
    _table_rows(wb, ws, "lifecycles", 12, [("lifecycle", None, {"font": Font(bold=True)})] + share_cols)
    _heading(ws, "A15", "{{concentration_heading}}")
    _table_rows(wb, ws, "concentration", 16, [
        ("basis", None, {}), ("period", None, {}), ("top1_share", SHARE, {}), ("top3_share", SHARE, {}),
        ("top5_share", SHARE, {}), ("customers_for_80pct", COUNT, {}), ("herfindahl", "0.000", {})])
    _heading(ws, "A19", "{{managers_heading}}")
    _table_rows(wb, ws, "managers", 20, [("manager", None, {"font": Font(bold=True)}), ("overdue", COUNT, {}),
                                         ("due_this_week", COUNT, {}), ("later", COUNT, {}), ("calls", COUNT, {})])
    _heading(ws, "A23", "{{charts_heading}}")
    _name(wb, "tb_chart_tiers", ws, "A24")
    _name(wb, "tb_chart_pareto", ws, "E24")
    _name(wb, "tb_chart_flow", ws, "A41")
    _heading(ws, "A58", "{{flow_heading}}")
    _table_rows(wb, ws, "flow", 59, [("month", None, {"alignment": CENTER}), ("entered", COUNT, {}),
                                     ("left", COUNT, {}), ("size", COUNT, {})])
    _heading(ws, "A62", "{{pareto_heading}}")
    _table_rows(wb, ws, "pareto", 63, [("customers_pct", SHARE, {}), ("cumulative_revenue", SHARE, {})])
    _landscape(ws)
    _texts(wb, SUMMARY_TEXTS)
    return _save(wb, directory / "summary.xlsx")


def contact_plan(directory: Path) -> Path:
    wb = Workbook()
    ws = wb.active
    ws.title = "Contact plan"
    _title_block(ws, 13)
    ws["A4"] = "{{excluded}}"
    ws["A4"].font = Font(bold=True, color="833C0B")
    ws["A4"].alignment = WRAP_TOP
    ws.merge_cells("A4:M4")
    ws.row_dimensions[4].height = 48
    _heading(ws, "A6", "{{classes_heading}}")
    ws["G7"] = "{{classes_note}}"
    ws["G7"].font = Font(italic=True, color=GREY)
    _table_rows(wb, ws, "classes", 7, [("lifecycle", None, {"font": Font(bold=True)}),
                                       ("contacts_per_year", COUNT, {}), ("customers", COUNT, {}),
                                       ("with_consent", COUNT, {}), ("in_plan", COUNT, {})])
    _heading(ws, "A10", "{{plan_heading}}")
    ws["A11"] = "{{overdue_legend}}"
    ws["A11"].font = RED_FONT
    ws["A11"].fill = RED_FILL
    _name(wb, "tb_overdue", ws, "A11")
    _table_rows(wb, ws, "rows", 12, [
        ("date", DATE, {}), ("overdue_since", DATE, {}), ("task", None, {}), ("reason", None, {}),
        ("customer", None, {"font": Font(bold=True)}), ("manager", None, {}),
        ("segment", None, {}), ("consent", None, {}), ("channel", None, {}), ("contact_time", None, {}),
        ("phone", "@", {}), ("email", None, {}), ("script", None, {})])
    _landscape(ws)
    _texts(wb, CONTACT_PLAN_TEXTS)
    return _save(wb, directory / "contact_plan.xlsx")


def movement(directory: Path) -> Path:
    wb = Workbook()
    ws = wb.active
    ws.title = "Movement"
    _title_block(ws, 5)
    tiers = [("VIP", COUNT, {}), ("Good", COUNT, {}), ("Regular", COUNT, {}), ("inactive", COUNT, {})]
    _heading(ws, "A5", "{{matrix_heading}}")
    _table_rows(wb, ws, "matrix", 6, [("tier_before", None, {"font": Font(bold=True)})] + tiers)
    _heading(ws, "A9", "{{flow_heading}}")
    _table_rows(wb, ws, "flow", 10, [("tier", None, {"font": Font(bold=True)}), ("entered", COUNT, {}),
                                     ("left", COUNT, {})])
    _heading(ws, "A13", "{{sizes_heading}}")
    _name(wb, "tb_chart_sizes", ws, "A14")
    _heading(ws, "A32", "{{sizes_table_heading}}")
    _table_rows(wb, ws, "sizes", 33, [("month", None, {"alignment": CENTER})] + tiers)
    _heading(ws, "A36", "{{changes_heading}}")
    _table_rows(wb, ws, "changes", 37, [("customer", None, {"font": Font(bold=True)}), ("tier", None, {}),
                                        ("previous_tier", None, {}), ("changed_on", None, {"alignment": CENTER})])
    _landscape(ws)
    _texts(wb, MOVEMENT_TEXTS)
    return _save(wb, directory / "movement.xlsx")


def reactivation(directory: Path) -> Path:
    wb = Workbook()
    ws = wb.active
    ws.title = "Reactivation"
    _title_block(ws, 10)
    ws["A4"] = "{{seed_line}}"
    ws["A4"].font = Font(size=9, color=GREY)
    ws["A5"] = "{{how}}"
    ws["A5"].alignment = WRAP_TOP
    ws["A5"].fill = TEXT_FILL
    ws.merge_cells("A5:J5")
    _heading(ws, "A7", "{{variants_heading}}")
    _table_rows(wb, ws, "variants", 8, [("variant", None, {"font": Font(bold=True), "alignment": CENTER}),
                                        ("customers", COUNT, {}), ("message", None, {"alignment": WRAP_TOP})])
    _heading(ws, "A11", "{{plan_heading}}")
    _table_rows(wb, ws, "rows", 12, [
        ("customer", None, {"font": Font(bold=True)}), ("variant", None, {"alignment": CENTER}),
        ("planned_on", DATE, {}), ("manager", None, {}), ("channel", None, {}), ("contact_time", None, {}),
        ("phone", "@", {}), ("email", None, {}), ("stratum", None, {}), ("message", None, {})])
    _landscape(ws)
    _texts(wb, REACTIVATION_TEXTS)
    return _save(wb, directory / "reactivation.xlsx")


def reactivation_results(directory: Path) -> Path:
    wb = Workbook()
    ws = wb.active
    ws.title = "Reactivation results"
    _title_block(ws, 7)
    ws["A5"] = "{{verdict}}"
    ws["A5"].font = Font(bold=True, color="833C0B")
    ws["A5"].fill = ALERT_FILL
    ws["A5"].alignment = WRAP_TOP
    ws.merge_cells("A5:G5")
    _heading(ws, "A7", "{{results_heading}}")
    _table_rows(wb, ws, "rows", 8, [
        ("variant", None, {"font": Font(bold=True), "alignment": CENTER}), ("contacted", COUNT, {}),
        ("converted", COUNT, {}), ("rate", SHARE, {}), ("rate_low", SHARE, {}), ("rate_high", SHARE, {}),
        ("revenue_after", MONEY, {})])
    _heading(ws, "A11", "{{chart_heading}}")
    _name(wb, "tb_chart_rates", ws, "A12")
    ws["A30"] = "{{log_note}}"
    ws["A30"].font = Font(italic=True, color=GREY)
    _landscape(ws)
    _texts(wb, REACTIVATION_RESULTS_TEXTS)
    return _save(wb, directory / "reactivation_results.xlsx")


def _save(wb: Workbook, path: Path) -> Path:
    import datetime as dt

    wb.active = 0
    wb.properties.creator = "tierbook"
    wb.properties.created = wb.properties.modified = dt.datetime(2026, 1, 1)
    wb.save(path)
    return path


def make_all(directory: str | Path = HERE) -> list[Path]:
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    return [call_list(directory), vip_ledger(directory), summary(directory), contact_plan(directory),
            movement(directory), reactivation(directory), reactivation_results(directory)]


if __name__ == "__main__":
    for written in make_all(sys.argv[1] if len(sys.argv) > 1 else HERE):
        print(written)
