"""Emailing the split workbooks: a real SMTP server (aiosmtpd) on 127.0.0.1 receives the
demo's messages, and the outbox's .eml files are parsed back with the email package."""

from __future__ import annotations

import email
import io
import json
import shutil
import socket
import ssl
import zipfile
from datetime import date
from email import policy
from pathlib import Path

import openpyxl
import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from tierbook import jobs
from tierbook.mail import (DEFAULT_MAX_BYTES, Address, MailError, SmtpSettings, build_message, init_mailing,
                           mailing_from_rows, parse_addresses, read_mailing, send_from_excel, send_workbooks,
                           smtp_settings, windows_filename)
from tierbook.sheets import segment_members
from tierbook.workbook import read_customers

WEEK = date(2026, 11, 2)  # a Monday: the week after the demo's analysis month (2026-10)
PASSWORD = "s3cret-Pa55word"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="session")
def demo_book(tmp_path_factory) -> Path:
    """The demo's output workbook, written once."""
    _, out, _ = jobs.demo(tmp_path_factory.mktemp("demo"))
    return out


def fill_mailing(path: Path, addresses: dict[str, tuple[str, str | None]]) -> None:
    """Type To and Cc into the Mailing sheet's rows, by segment or manager name."""
    book = openpyxl.load_workbook(path)
    sheet = book["Mailing"]
    for row in sheet.iter_rows(min_row=2):
        if row[1].value in addresses:
            row[2].value, row[3].value = addresses[row[1].value]
    book.save(path)


SEGMENT_ADDRESSES = {
    "VIP": ("vip@example.com", "boss@example.com; Head of Sales <head@example.org>"),
    "Good": ("good@example.com", None),
    "Regular": ("regular@example.com", None),
    "New": ("new@example.com; acq@example.com", None),
    "One-time": ("reactivation@example.com", None),
    "Lost VIP": ("lost@example.com", "boss@example.com"),
}
MANAGER_ADDRESSES = {name: (name.split()[0].lower() + "@example.com", None)
                     for name in ("Anna Petrova", "Emily Brown", "Ivan Sidorov", "John Carter", "Maria Smirnova")}


@pytest.fixture(scope="session")
def mailed_book(demo_book, tmp_path_factory) -> Path:
    """The demo workbook with a Mailing sheet whose addresses are filled in."""
    path = tmp_path_factory.mktemp("mailed") / "tierbook.xlsx"
    shutil.copyfile(demo_book, path)
    init_mailing(path)
    fill_mailing(path, {**SEGMENT_ADDRESSES, **MANAGER_ADDRESSES})
    return path


@pytest.fixture(scope="session")
def small_mailed(tmp_path_factory) -> Path:
    """A 14-customer workbook (two managers) with every Mailing row filled in: fast to
    split, for the tests of failures and options. Addresses: <label>@example.com."""
    folder = tmp_path_factory.mktemp("small")
    rows = ["customer,date,amount,manager,email,consent"]
    for i in range(12):
        for month in range(5, 11):
            if i > 3 and (i + month) % 3 == 0:
                continue
            rows.append(f"C{i:02},2026-{month:02}-{10 + i},{100 * (12 - i) * (1 + month % 2)},"
                        f"{'Anna' if i % 2 else 'Bob'},c{i}@client.example,yes")
    rows += ["N1,2026-10-25,500,Anna,n1@client.example,yes", "O1,2025-03-01,50,Bob,o1@client.example,yes"]
    (folder / "sales.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    path = jobs.segment_file(folder / "sales.csv", folder / "tierbook.xlsx") and folder / "tierbook.xlsx"
    init_mailing(path)
    labels_ = [row[1] for row in openpyxl.load_workbook(path, read_only=True)["Mailing"].iter_rows(
        min_row=2, values_only=True)]
    fill_mailing(path, {label: (label.lower().replace(" ", "-") + "@example.com",
                                "boss@example.com; Head <head@example.org>" if label == "VIP" else None)
                        for label in labels_})
    return path


@pytest.fixture()
def small(small_mailed, tmp_path) -> Path:
    path = tmp_path / "tierbook.xlsx"
    shutil.copyfile(small_mailed, path)
    return path


@pytest.fixture()
def book(mailed_book, tmp_path) -> Path:
    """A fresh copy per test, so each has its own send log beside it."""
    path = tmp_path / "tierbook.xlsx"
    shutil.copyfile(mailed_book, path)
    return path


class Recorder:
    """An SMTP handler that keeps what it receives, refuses some recipients (550) and
    drops the connection during DATA for others (a number of times, or always)."""

    def __init__(self, reject=(), drop=None):
        self.reject = set(reject)
        self.drop = dict(drop or {})
        self.received: list[tuple[list[str], email.message.EmailMessage]] = []
        self.dropped = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.reject:
            return f"550 5.1.1 <{address}>: mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        for address in envelope.rcpt_tos:
            if self.drop.get(address, 0) > 0:
                self.drop[address] -= 1
                self.dropped += 1
                server.transport.abort()
                return "421 4.3.0 gone"
        self.received.append((list(envelope.rcpt_tos),
                              email.message_from_bytes(envelope.content, policy=policy.default)))
        return "250 2.0.0 accepted"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture()
def smtp_server(ca):
    """start(handler, security=..., login=...) -> SmtpSettings pointing at a running server."""
    controllers = []

    def start(handler: Recorder, security: str = "none", login: bool = False) -> SmtpSettings:
        server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert("127.0.0.1", "localhost").configure_cert(server_context)
        client_context = ssl.create_default_context()
        ca.configure_trust(client_context)
        options = {}
        if security == "starttls":
            options.update(tls_context=server_context, require_starttls=True)
        if login:
            options.update(authenticator=lambda server, session, envelope, mechanism, data: AuthResult(
                success=isinstance(data, LoginPassword) and data.login == b"tb-user" and data.password == PASSWORD.encode(),
                handled=False),
                auth_required=True, auth_require_tls=security == "starttls")
        port = free_port()
        controller = Controller(handler, hostname="127.0.0.1", port=port,
                                ssl_context=server_context if security == "ssl" else None,
                                server_hostname="127.0.0.1" if security == "ssl" else None, **options)
        if security == "ssl":
            controller.ssl_context.check_hostname = False  # only the readiness probe of aiosmtpd uses this
        controller.start()
        controllers.append(controller)
        return SmtpSettings(host="127.0.0.1", port=port, security=security, user="tb-user" if login else "",
                            password=PASSWORD if login else "", sender="Tierbook <tierbook@example.com>",
                            timeout=10, context=client_context)

    yield start
    for controller in controllers:
        controller.stop()


def customers_in(attachment: bytes) -> set[str]:
    """The customer column of the attachment's Customers sheet, opened with openpyxl."""
    book = openpyxl.load_workbook(io.BytesIO(attachment), read_only=True)
    rows = book["Customers"].iter_rows(values_only=True)
    head = next(rows)
    column = head.index("customer")
    names = {r[column] for r in rows if r[column] is not None}
    book.close()
    return names


def expected_segment(demo_book: Path, segment: str) -> set[str]:
    customers, _ = read_customers(demo_book)
    return set(customers["customer"][segment_members(customers, segment)])


def attachment_of(message: email.message.EmailMessage):
    parts = list(message.iter_attachments())
    assert len(parts) == 1
    return parts[0]


def body(message: email.message.EmailMessage, kind: str) -> str:
    """The plain or html body, with the line ends of the wire (CRLF) read as newlines."""
    return message.get_body((kind,)).get_content().replace("\r\n", "\n")


def log_lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


# --------------------------------------------------------------------------- SMTP


def test_each_segment_gets_its_workbook_over_starttls_with_login(book, demo_book, smtp_server):
    recorder = Recorder()
    settings = smtp_server(recorder, security="starttls", login=True)
    report = send_workbooks(book, "segment", smtp=settings, week=WEEK, retry_delay=0)

    assert [(r.name, r.status) for r in report.results] == [
        ("VIP", "sent"), ("Good", "sent"), ("Regular", "sent"), ("New", "sent"), ("One-time", "sent"),
        ("Lost VIP", "sent")]  # the demo has no potential customers
    assert len(recorder.received) == 6
    by_subject = {m["Subject"].split(":")[0]: (rcpt, m) for rcpt, m in recorder.received}
    rcpt, vip = by_subject["VIP"]
    assert rcpt == ["vip@example.com", "boss@example.com", "head@example.org"]
    assert vip["To"] == "vip@example.com"
    assert vip["Cc"] == "boss@example.com, Head of Sales <head@example.org>"
    assert vip["From"] == "Tierbook <tierbook@example.com>"
    assert "Bcc" not in vip
    assert by_subject["New"][0] == ["new@example.com", "acq@example.com"]
    assert by_subject["Lost VIP"][0] == ["lost@example.com", "boss@example.com"]

    segment_codes = {"VIP": "VIP", "Good": "Good", "Regular": "Regular", "New": "new", "One-time": "one-time",
                     "Lost VIP": "lost VIP"}
    for title, code in segment_codes.items():
        _, message = by_subject[title]
        assert message.get_content_type() == "multipart/mixed"
        text = body(message, "plain")
        html = body(message, "html")
        expected = expected_segment(demo_book, code)
        assert f"customers in the workbook: {len(expected)}\n" in text
        assert f"<b>{len(expected)}</b>" in html
        attachment = attachment_of(message)
        assert attachment.get_content_type() == XLSX
        assert attachment.get_filename() == f"{title} 2026-10.xlsx"
        assert customers_in(attachment.get_content()) == expected

    # the note's figures for the week of 2026-11-02, from the demo's customers
    customers, _ = read_customers(demo_book)
    vip_rows = customers[segment_members(customers, "VIP")]
    due = vip_rows["remind_on"].between("2026-11-02", "2026-11-08") & vip_rows["consent"]
    text = body(by_subject["VIP"][1], "plain")
    assert f"- reminders due this week: {int(due.sum())}\n" in text
    assert f"- lost VIPs to call and ask why: {int(vip_rows['lost_vip'].sum())}\n" in text
    assert "This week (2026-11-02 to 2026-11-08)" in text

    entries = log_lines(report.log_path)
    assert report.log_path == book.parent / "tierbook-sent.jsonl"
    assert [(e["name"], e["status"], e["channel"]) for e in entries] == [
        (title, "sent", "smtp") for title in segment_codes]
    assert entries[0]["to"] == ["vip@example.com"] and len(entries[0]["checksum"]) == 64 and entries[0]["date"]
    assert PASSWORD not in report.log_path.read_text(encoding="utf-8")
    assert PASSWORD not in str(report) and PASSWORD not in repr(settings)


def test_each_manager_gets_exactly_their_customers_and_a_rerun_sends_nothing_new(book, demo_book, smtp_server):
    recorder = Recorder()
    settings = smtp_server(recorder)
    first = send_workbooks(book, "manager", smtp=settings, week=WEEK, retry_delay=0)
    assert first.count("sent") == 5 and first.ok
    customers, _ = read_customers(demo_book)
    for rcpt, message in recorder.received:
        name = next(n for n, (to, _) in MANAGER_ADDRESSES.items() if [to] == rcpt)
        assert message["Subject"].startswith(f"{name}: ")
        expected = set(customers["customer"][customers["manager"] == name])
        assert customers_in(attachment_of(message).get_content()) == expected

    again = send_workbooks(book, "manager", smtp=settings, week=WEEK, retry_delay=0)
    assert len(recorder.received) == 5
    assert [r.status for r in again.results] == ["skipped"] * 5
    assert "already sent on " in again.results[0].detail
    assert again.summary() == "0 messages sent, 5 already sent, 0 without an address, 0 failed"



def test_resend_sends_again_what_was_sent(small, smtp_server):
    recorder = Recorder()
    settings = smtp_server(recorder)
    assert send_workbooks(small, "manager", smtp=settings, week=WEEK).count("sent") == 2
    assert send_workbooks(small, "manager", smtp=settings, week=WEEK).count("skipped") == 2
    assert send_workbooks(small, "manager", smtp=settings, week=WEEK, resend=True).count("sent") == 2
    assert len(recorder.received) == 4
    assert send_workbooks(small, "manager", smtp=settings, week=date(2026, 11, 9)).count("sent") == 2  # a new week


def test_a_refused_recipient_is_reported_and_the_others_are_delivered(small, smtp_server):
    recorder = Recorder(reject={"good@example.com", "head@example.org"})
    report = send_workbooks(small, "segment", smtp=smtp_server(recorder), week=WEEK, retry_delay=0)

    status = {r.name: (r.status, r.detail) for r in report.results}
    assert status["Good"] == ("failed", "refused: good@example.com: 550 5.1.1 <good@example.com>: mailbox unavailable")
    assert status["VIP"] == ("partial", "refused: head@example.org: 550 5.1.1 <head@example.org>: mailbox unavailable")
    assert [r.name for r in report.failed] == ["VIP", "Good"]
    delivered = sorted(m["Subject"].split(":")[0] for _, m in recorder.received)
    assert delivered == ["Lost VIP", "New", "One-time", "Regular", "VIP"]
    assert next(rcpt for rcpt, m in recorder.received if m["Subject"].startswith("VIP")) == [
        "vip@example.com", "boss@example.com"]
    assert [e["status"] for e in log_lines(report.log_path) if e["name"] == "Good"] == ["failed"]

    # A re-run tries only the one that failed.
    again = send_workbooks(small, "segment", smtp=smtp_server(recorder), week=WEEK, retry_delay=0)
    assert {r.name: r.status for r in again.results if r.status != "skipped"} == {"Good": "failed"}


def test_a_dropped_connection_is_retried_and_a_recipient_that_always_fails_does_not_stop_the_others(
        small, smtp_server):
    recorder = Recorder(drop={"vip@example.com": 1, "regular@example.com": 99})
    report = send_workbooks(small, "segment", smtp=smtp_server(recorder), week=WEEK, retries=2, retry_delay=0)

    status = {r.name: r.status for r in report.results}
    assert status == {"VIP": "sent", "Good": "sent", "Regular": "failed", "New": "sent", "One-time": "sent",
                      "Lost VIP": "sent"}
    assert recorder.dropped == 1 + 3  # VIP once, Regular on each of its 3 attempts
    regular = next(r for r in report.results if r.name == "Regular")
    assert regular.detail.startswith("SMTPServerDisconnected: ") and regular.detail.endswith("(after 3 attempts)")
    assert sorted(m["Subject"].split(":")[0] for _, m in recorder.received) == [
        "Good", "Lost VIP", "New", "One-time", "VIP"]


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_implicit_ssl_is_supported(small, smtp_server):
    recorder = Recorder()
    report = send_workbooks(small, "segment", smtp=smtp_server(recorder, security="ssl", login=True), week=WEEK,
                            retry_delay=0)
    assert report.count("sent") == 6 and len(recorder.received) == 6


def test_a_wrong_password_stops_before_sending(small, smtp_server):
    settings = smtp_server(Recorder(), security="starttls", login=True)
    wrong = SmtpSettings(host=settings.host, port=settings.port, security="starttls", user="tb-user",
                         password="wrong", sender="tierbook@example.com", context=settings.context)
    with pytest.raises(MailError) as error:
        send_workbooks(small, "segment", smtp=wrong, week=WEEK)
    assert str(error.value).startswith(f"the SMTP server 127.0.0.1:{settings.port} (starttls) refused the login "
                                       f"of 'tb-user': 535 ")
    assert "wrong" not in str(error.value)
    assert not (small.parent / "tierbook-sent.jsonl").exists()


# --------------------------------------------------------------------------- header safety


def test_a_line_break_in_a_label_never_makes_a_header(tmp_path, small_mailed, smtp_server):
    """A manager's name typed with Alt+Enter in the Customers sheet, and in the Mailing
    sheet: the subject stays one header and nobody else receives the message."""
    path = tmp_path / "tierbook.xlsx"
    book = openpyxl.load_workbook(small_mailed)
    sheet = book["Customers"]
    manager = [c.value for c in sheet[1]].index("manager")
    for row in sheet.iter_rows(min_row=2):
        if row[manager].value == "Anna":
            row[manager].value = "Anna\r\nBcc: evil@example.com"
    for row in book["Mailing"].iter_rows(min_row=2):
        if row[1].value == "Anna":
            row[1].value = "Anna\r\nBcc: evil@example.com"
    book.save(path)

    recorder = Recorder()
    report = send_workbooks(path, "manager", smtp=smtp_server(recorder), week=WEEK, retry_delay=0)
    # openpyxl keeps the CR of the cell or drops it depending on its XML library
    assert [(r.name.replace("\r\n", "\n"), r.status) for r in report.results] == [
        ("Anna\nBcc: evil@example.com", "sent"), ("Bob", "sent")]
    [(rcpt, message)] = [(rcpt, m) for rcpt, m in recorder.received if "bob@example.com" not in rcpt]
    assert rcpt == ["anna@example.com"]
    assert message["Subject"].lstrip() == "Anna Bcc: evil@example.com: 7 customers, to do in the week of 2026-11-02"
    assert message.keys() == ["From", "To", "Subject", "Date", "Message-ID", "MIME-Version", "Content-Type"]
    assert message["To"] == "anna@example.com"
    assert attachment_of(message).get_filename() == "Anna Bcc_ evil@example.com 2026-10.xlsx"


def test_build_message_makes_every_header_one_line():
    message = build_message(to=[Address("a@example.com", "A\r\nBcc: x@evil.com")], sender=None,
                            subject="VIP\r\nBcc: x@evil.com\nX-Evil: 1", text="t", html_body="<p>t</p>",
                            attachment=b"PK", attachment_name="VIP\r\n.xlsx")
    parsed = email.message_from_bytes(message.as_bytes(), policy=policy.default)
    assert parsed.keys() == ["To", "Subject", "Date", "Message-ID", "MIME-Version", "Content-Type"]
    assert parsed["Subject"] == "VIP Bcc: x@evil.com X-Evil: 1"
    assert attachment_of(parsed).get_filename() == "VIP .xlsx"


# --------------------------------------------------------------------------- the outbox


def test_the_outbox_holds_drafts_a_mail_client_opens(book, demo_book, tmp_path):
    outbox = tmp_path / "outbox"
    report = send_workbooks(book, "segment", outbox=outbox, week=WEEK, lang="ru",
                            sender="Tierbook <tierbook@example.com>")
    assert report.summary() == f"6 messages written to {outbox}, 0 already sent, 0 without an address, 0 failed"
    assert sorted(p.name for p in outbox.iterdir()) == sorted(
        f"segment - {title}.eml" for title in ("VIP", "Хорошие", "Обычные", "Новые", "Разовые", "Потерянные VIP"))

    raw = (outbox / "segment - Потерянные VIP.eml").read_bytes()
    assert b"\r\n" in raw and b"\n" not in raw.replace(b"\r\n", b"")  # CRLF line ends, as .eml files have
    message = email.message_from_bytes(raw, policy=policy.default)
    assert message["X-Unsent"] == "1"  # Outlook opens it as a draft to send
    assert message["From"] == "Tierbook <tierbook@example.com>"
    assert message["To"] == "lost@example.com" and message["Cc"] == "boss@example.com"
    expected = expected_segment(demo_book, "lost VIP")
    assert message["Subject"] == f"Потерянные VIP: клиентов {len(expected)}, задачи на неделю с 02.11.2026"
    assert [p.get_content_type() for p in message.walk()] == [
        "multipart/mixed", "multipart/alternative", "text/plain", "text/html", XLSX]
    assert f"- клиентов в книге: {len(expected)}\n" in body(message, "plain")
    assert "Потерянных VIP — позвонить и узнать причину" in body(message, "html")
    attachment = attachment_of(message)
    assert attachment.get_filename() == "Потерянные VIP 2026-10.xlsx"
    assert attachment.get_content_disposition() == "attachment"
    book_ru = openpyxl.load_workbook(io.BytesIO(attachment.get_content()), read_only=True)
    assert "Клиенты" in book_ru.sheetnames



def test_a_dry_run_lists_what_would_be_sent_and_writes_nothing(small, tmp_path):
    report = send_workbooks(small, None, outbox=tmp_path / "outbox", dry_run=True, week=WEEK)
    assert [r.status for r in report.results] == ["would send"] * 8
    assert str(report.results[0]).startswith("would send  segment 'VIP' → vip@example.com (cc boss@example.com, "
                                              "head@example.org): VIP 2026-10.xlsx, ")
    assert report.summary() == "8 messages to send, 0 already sent, 0 without an address, 0 failed"
    assert not (tmp_path / "outbox").exists() and not (small.parent / "tierbook-sent.jsonl").exists()


def test_a_message_over_the_size_limit_is_refused(small, tmp_path):
    sizes = sorted(r.size for r in send_workbooks(small, "segment", outbox=tmp_path / "dry", dry_run=True,
                                                  week=WEEK).results)
    limit = (sizes[0] + sizes[-1]) // 2  # between the smallest and the largest message
    report = send_workbooks(small, "segment", outbox=tmp_path / "outbox", max_bytes=limit, week=WEEK)
    big = [r for r in report.results if r.status == "too large"]
    assert {r.name for r in big} == {r.name for r in report.results if r.size > limit}
    assert big and len(big) < len(report.results)
    assert big[0].detail == (f"the message is {big[0].size / 1024:.1f} KB, over the limit of {limit / 1024:.1f} KB: "
                             f"raise the limit (--max-mb) or split by manager")
    assert sorted(p.name for p in (tmp_path / "outbox").iterdir()) == sorted(
        f"segment - {r.name}.eml" for r in report.results if r.status == "written")
    assert DEFAULT_MAX_BYTES == 10 * 1024 * 1024


# --------------------------------------------------------------------------- routing


def test_without_a_mailing_sheet_send_says_how_to_add_one(demo_book, tmp_path):
    path = tmp_path / "tierbook.xlsx"
    shutil.copyfile(demo_book, path)
    with pytest.raises(MailError) as error:
        send_workbooks(path, "segment", outbox=tmp_path / "outbox")
    assert str(error.value) == (
        f'{path} has no "Mailing" sheet, so tierbook does not know where to send the workbooks. Add one with '
        f"`tierbook send {path} --init-mailing` (it lists every segment and manager), fill in the To (and Cc) "
        f"addresses, save, and run send again.")


def test_init_mailing_adds_a_sheet_and_keeps_the_rest_of_the_workbook(demo_book, tmp_path):
    path = tmp_path / "tierbook.xlsx"
    shutil.copyfile(demo_book, path)
    before = zipfile.ZipFile(demo_book)
    assert init_mailing(path) == "Mailing"
    after = zipfile.ZipFile(path)
    for name in before.namelist():  # charts, tables, styles: every part is still there, unchanged
        if name not in ("[Content_Types].xml", "xl/workbook.xml", "xl/_rels/workbook.xml.rels"):
            assert after.read(name) == before.read(name), name
    book = openpyxl.load_workbook(path, read_only=True)
    assert book.sheetnames == openpyxl.load_workbook(demo_book, read_only=True).sheetnames + ["Mailing"]
    assert [list(row) for row in book["Mailing"].iter_rows(values_only=True)] == [
        ["By", "Segment or manager", "To", "Cc"],
        ["segment", "VIP", None, None], ["segment", "Good", None, None], ["segment", "Regular", None, None],
        ["segment", "New", None, None], ["segment", "One-time", None, None], ["segment", "Lost VIP", None, None],
        ["manager", "Anna Petrova", None, None], ["manager", "Emily Brown", None, None],
        ["manager", "Ivan Sidorov", None, None], ["manager", "John Carter", None, None],
        ["manager", "Maria Smirnova", None, None]]
    assert read_mailing(path).routes == ()
    with pytest.raises(MailError) as error:
        send_workbooks(path, None, outbox=tmp_path / "outbox")
    assert str(error.value) == f'the Mailing sheet of {path} has no row with an address: fill in the "To" column'
    with pytest.raises(MailError) as error:
        init_mailing(path)
    assert str(error.value) == f'{path} already has a sheet "Mailing"'


def test_bad_addresses_are_reported_with_sheet_row_and_column():
    rows = [["By", "Segment or manager", "To", "Cc"],
            ["segment", "VIP", "vip@example.com", None],
            ["segment", "Lost VIP", "lost at example.com", "boss@example.com; a@b@c"],
            ["segment", "Gold", "gold@example.com", None],
            ["team", "Anna Petrova", "anna@example.com", None]]
    with pytest.raises(MailError) as error:
        mailing_from_rows(rows, "Mailing", "OUT.xlsx")
    assert str(error.value) == (
        "the Mailing sheet of OUT.xlsx has 4 cells to fix:\n"
        '  Sheet "Mailing", row 3, column "To": not an email address (got \'lost at example.com\')\n'
        '  Sheet "Mailing", row 3, column "Cc": not an email address (got \'a@b@c\')\n'
        '  Sheet "Mailing", row 4, column "Segment or manager": not a segment; the segments are VIP, Good, '
        "Regular, new, one-time, potential, lost VIP (got 'Gold')\n"
        '  Sheet "Mailing", row 5, column "By": must be segment or manager (got \'team\')')


def test_a_mailing_sheet_accepts_russian_headers_labels_and_several_rows_per_group():
    mailing = mailing_from_rows([["Сегмент или менеджер", "Кому", "Копия"],
                                 ["Потерянные VIP", "a@example.com", None],
                                 ["lost vip", "b@example.com, a@example.com", "a@example.com"],
                                 ["без менеджера", "c@example.com", None]], "Рассылка")
    route = mailing.route("segment", "lost VIP")
    assert [a.addr for a in route.to] == ["a@example.com", "b@example.com"] and route.cc == ()
    assert [a.addr for a in mailing.route("manager", "").to] == ["c@example.com"]


def test_addresses_are_split_and_validated():
    good, bad = parse_addresses('"Ivanov, Ivan" <ivan@example.com>; anna@example.ru,\nbob@x.io')
    assert [str(a) for a in good] == ['"Ivanov, Ivan" <ivan@example.com>', "anna@example.ru", "bob@x.io"]
    assert bad == []
    assert parse_addresses("x@y.com\r\nBcc: e@v.com") == ([Address("x@y.com")], ["Bcc: e@v.com"])
    assert parse_addresses("ivan@localhost")[1] == ["ivan@localhost"]
    assert parse_addresses("Ivan <ivan@example.com")[1] == ["Ivan <ivan@example.com"]


# --------------------------------------------------------------------------- names and settings


@pytest.mark.parametrize("name, safe", [
    ("Lost VIP 2026-10", "Lost VIP 2026-10.xlsx"),
    ('a<b>c:d"e/f\\g|h?i*j', "a_b_c_d_e_f_g_h_i_j.xlsx"),
    ("CON", "_CON.xlsx"),
    ("lpt1.backup", "_lpt1.backup.xlsx"),
    ("Ivan.\r\n ", "Ivan.xlsx"),
    ("...", "workbook.xlsx"),
    ("Потерянные VIP", "Потерянные VIP.xlsx"),
])
def test_file_names_are_safe_on_windows(name, safe):
    assert windows_filename(name) == safe


def test_file_names_are_length_limited():
    assert windows_filename("x" * 300) == "x" * 95 + ".xlsx"


def test_smtp_settings_come_from_the_environment_over_the_config_file(tmp_path):
    config = tmp_path / "tierbook.ini"
    config.write_text("[smtp]\nhost = mail.example.com\nuser = me@example.com\npassword = p%ss\nsecurity = ssl\n",
                      encoding="utf-8")
    from_file = smtp_settings({}, config)
    assert (from_file.host, from_file.port, from_file.security, from_file.user, from_file.password) == (
        "mail.example.com", 465, "ssl", "me@example.com", "p%ss")
    assert from_file.from_address() == Address("me@example.com")
    assert "p%ss" not in repr(from_file)
    env = {"TIERBOOK_SMTP_HOST": "smtp.corp.example", "TIERBOOK_SMTP_PORT": "2525",
           "TIERBOOK_SMTP_SECURITY": "starttls", "TIERBOOK_SMTP_FROM": "Sales <sales@corp.example>"}
    merged = smtp_settings(env, config)
    assert (merged.host, merged.port, merged.security, merged.password) == ("smtp.corp.example", 2525, "starttls",
                                                                           "p%ss")
    assert merged.from_address() == Address("sales@corp.example", "Sales")
    assert smtp_settings({}, tmp_path / "none.ini", required=False) is None
    with pytest.raises(MailError) as error:
        smtp_settings({"TIERBOOK_SMTP_HOST": "h", "TIERBOOK_SMTP_SECURITY": "tls"}, config)
    assert str(error.value) == "TIERBOOK_SMTP_SECURITY must be one of starttls, ssl, none, got 'tls'"


def test_the_ribbon_sends_the_mailing_rows_of_the_open_workbook(small, tmp_path, monkeypatch):
    monkeypatch.setenv("TIERBOOK_CONFIG", str(tmp_path / "none.ini"))
    monkeypatch.delenv("TIERBOOK_MAIL_DELIVERY", raising=False)
    rows = [["Segment or manager", "To"], ["Anna", "anna@example.com"]]
    report = send_from_excel(small, rows, folder=tmp_path / "tb", sheet="Mailing")
    assert [(r.name, r.status) for r in report.results if r.status != "no address"] == [("Anna", "written")]
    assert (tmp_path / "tb" / "outbox" / "manager - Anna.eml").is_file()
    assert [e["name"] for e in log_lines(tmp_path / "tb" / "tierbook-sent.jsonl")] == ["Anna"]
    monkeypatch.setenv("TIERBOOK_MAIL_DELIVERY", "smtp")
    with pytest.raises(MailError) as error:
        send_from_excel(small, rows, folder=tmp_path / "tb")
    assert str(error.value).startswith("no SMTP server: set TIERBOOK_SMTP_HOST")


# --------------------------------------------------------------------------- secrets, re-runs, two runs at once

import base64  # noqa: E402
import os  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

TIERBOOK = str(Path(sys.executable).with_name("tierbook"))
#: Every form the password can take on the wire: as typed, AUTH LOGIN's and AUTH PLAIN's base64.
SECRET_FORMS = (PASSWORD, base64.b64encode(PASSWORD.encode()).decode(),
                base64.b64encode(b"\0tb-user\0" + PASSWORD.encode()).decode())


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([TIERBOOK, *args], capture_output=True, text=True, timeout=300,
                          env={**os.environ, **(env or {})})


def assert_no_secret(*texts: str) -> None:
    for text in texts:
        for form in SECRET_FORMS:
            assert form not in text, text


@pytest.mark.parametrize("config", [
    f"password = {PASSWORD}\n[smtp]\nhost = 127.0.0.1\n",  # before any section
    f"[smtp]\nhost = 127.0.0.1\npassword {PASSWORD}\n",  # no "="
    f"[smtp]\nhost = 127.0.0.1\n  password = {PASSWORD}\n[smtp]\n",  # an indented line continues the host; twice
    f"[smtp]\npassword = {PASSWORD}\npassword = {PASSWORD}x\n",  # set twice
    f"[smtp\npassword = {PASSWORD}\n",  # an unclosed header
])
def test_a_config_file_with_a_syntax_error_never_shows_the_password(small, tmp_path, config):
    path = tmp_path / "tierbook.ini"
    path.write_text(config, encoding="utf-8")
    done = cli("send", str(small), "--smtp", env={"TIERBOOK_CONFIG": str(path)})
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1].startswith(f"tierbook: error: cannot read {path}: ")
    assert "line " in done.stderr
    assert_no_secret(done.stdout, done.stderr)


def test_a_config_file_that_is_not_utf8_is_named_without_its_content(small, tmp_path):
    path = tmp_path / "tierbook.ini"
    path.write_bytes(b"[smtp]\npassword = \xff" + PASSWORD.encode() + b"\n")
    done = cli("send", str(small), "--smtp", env={"TIERBOOK_CONFIG": str(path)})
    assert done.stderr.strip().splitlines()[-1] == (f"tierbook: error: cannot read {path}: it is not UTF-8 text: "
                                                    f"save it as UTF-8")
    assert_no_secret(done.stderr)


def test_drafts_do_not_read_the_smtp_settings(small, tmp_path):
    path = tmp_path / "tierbook.ini"
    path.write_text(f"password = {PASSWORD}\n", encoding="utf-8")  # broken: --smtp would stop on it
    outbox = tmp_path / "outbox"
    done = cli("send", str(small), "--by", "manager", "--outbox", str(outbox),
               env={"TIERBOOK_CONFIG": str(path), "TIERBOOK_SMTP_FROM": "Sales <sales@example.com>"})
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in outbox.iterdir()) == ["manager - Anna.eml", "manager - Bob.eml"]
    draft = email.message_from_bytes((outbox / "manager - Anna.eml").read_bytes(), policy=policy.default)
    assert draft["From"] == "Sales <sales@example.com>"


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_a_535_reply_that_echoes_the_auth_line_is_shown_without_the_password(small, tmp_path):
    def authenticator(server, session, envelope, mechanism, data):
        line = base64.b64encode(b"\0" + data.login + b"\0" + data.password).decode()
        return AuthResult(success=False, handled=False,
                          message=f"535 5.7.8 Bad credentials for AUTH {mechanism} {line} "
                                  f"({data.password.decode()})")

    port = free_port()
    controller = Controller(Recorder(), hostname="127.0.0.1", port=port, authenticator=authenticator,
                            auth_required=True, auth_require_tls=False)
    controller.start()
    try:
        env = {"TIERBOOK_SMTP_HOST": "127.0.0.1", "TIERBOOK_SMTP_PORT": str(port), "TIERBOOK_SMTP_USER": "tb-user",
               "TIERBOOK_SMTP_PASSWORD": PASSWORD, "TIERBOOK_SMTP_SECURITY": "none",
               "TIERBOOK_SMTP_FROM": "tierbook@example.com", "TIERBOOK_CONFIG": str(tmp_path / "none.ini")}
        done = cli("send", str(small), "--smtp", env=env)
    finally:
        controller.stop()
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1] == (
        f"tierbook: error: the SMTP server 127.0.0.1:{port} (none) refused the login of 'tb-user': 535 5.7.8 Bad "
        f"credentials for AUTH PLAIN *** (***)")
    assert_no_secret(done.stdout, done.stderr)


class Deferring(Recorder):
    """Answers 450 (mailbox busy: try later) to some recipients, a number of times each."""

    def __init__(self, defer: dict[str, int], slow: float = 0.0):
        super().__init__()
        self.defer, self.slow, self.started = dict(defer), slow, False

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.defer.get(address, 0) > 0:
            self.defer[address] -= 1
            return f"450 4.2.1 <{address}>: mailbox busy, try again later"
        return await super().handle_RCPT(server, session, envelope, address, rcpt_options)

    async def handle_DATA(self, server, session, envelope):
        self.started = True
        if self.slow:
            import asyncio

            await asyncio.sleep(self.slow)
        return await super().handle_DATA(server, session, envelope)


def test_a_temporary_refusal_is_retried_in_the_run(small, smtp_server):
    recorder = Deferring({"head@example.org": 1})
    report = send_workbooks(small, "segment", smtp=smtp_server(recorder), week=WEEK, retries=2, retry_delay=0)
    vip = next(r for r in report.results if r.name == "VIP")
    assert (vip.status, vip.detail) == ("sent", "")
    assert [rcpt for rcpt, m in recorder.received if m["Subject"].startswith("VIP")] == [
        ["vip@example.com", "boss@example.com"], ["head@example.org"]]


def test_a_temporary_refusal_is_sent_on_the_next_run_to_that_recipient_only(small, smtp_server):
    recorder = Deferring({"head@example.org": 2})
    settings = smtp_server(recorder)
    first = send_workbooks(small, "segment", smtp=settings, week=WEEK, retries=1, retry_delay=0)
    vip = next(r for r in first.results if r.name == "VIP")
    assert vip.status == "partial"
    assert vip.detail == ("refused: head@example.org: 450 4.2.1 <head@example.org>: mailbox busy, try again later "
                          "(refused for now: a re-run sends it to head@example.org)")
    assert [e.get("pending") for e in log_lines(first.log_path) if e["name"] == "VIP"] == [["head@example.org"]]

    received = len(recorder.received)
    again = send_workbooks(small, "segment", smtp=settings, week=WEEK, retries=1, retry_delay=0)
    assert {r.name: r.status for r in again.results} == {"VIP": "sent", "Good": "skipped", "Regular": "skipped",
                                                        "New": "skipped", "One-time": "skipped",
                                                        "Lost VIP": "skipped"}
    vip = next(r for r in again.results if r.name == "VIP")
    assert vip.detail.startswith("sent now to head@example.org (held back on ")
    assert [rcpt for rcpt, _ in recorder.received[received:]] == [["head@example.org"]]
    third = send_workbooks(small, "segment", smtp=settings, week=WEEK, retries=1, retry_delay=0)
    assert [r.status for r in third.results] == ["skipped"] * 6 and len(recorder.received) == received + 1


def test_two_sends_at_once_on_one_send_log_deliver_each_message_once(small, smtp_server):
    recorder = Deferring({}, slow=1.5)
    settings = smtp_server(recorder)
    env = {"TIERBOOK_SMTP_HOST": settings.host, "TIERBOOK_SMTP_PORT": str(settings.port),
           "TIERBOOK_SMTP_SECURITY": "none", "TIERBOOK_SMTP_FROM": "tierbook@example.com",
           "TIERBOOK_CONFIG": str(small.parent / "none.ini")}
    args = [TIERBOOK, "send", str(small), "--by", "manager", "--smtp"]
    first = subprocess.Popen(args, env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
    try:
        for _ in range(1200):  # until the first run is sending its first message
            if recorder.started or first.poll() is not None:
                break
            time.sleep(0.05)
        second = cli("send", str(small), "--by", "manager", "--smtp", env=env)
    finally:
        out, err = first.communicate(timeout=120)
    assert first.returncode == 0, err
    assert second.returncode == 2
    assert second.stderr.strip().splitlines()[-1] == (
        f"tierbook: error: another tierbook send is using the send log {small.parent / 'tierbook-sent.jsonl'}: "
        f"wait until it has finished, then run again (nothing was sent by this run)")
    assert sorted(rcpt[0] for rcpt, _ in recorder.received) == ["anna@example.com", "bob@example.com"]
    third = cli("send", str(small), "--by", "manager", "--smtp", env=env)
    assert third.returncode == 0 and third.stdout.strip().splitlines()[-1] == (
        "0 messages sent, 2 already sent, 0 without an address, 0 failed")
    assert len(recorder.received) == 2
