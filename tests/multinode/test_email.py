"""Several nodes sending the outbox through one SMTP relay deliver each email once.

Every node runs a sender that polls the shared outbox often, so their claims overlap. The relay is
the sink of tests/api/smtp_sink.py on 127.0.0.1.
"""

import importlib.util
import json
import os
import subprocess
import time
from pathlib import Path

import pytest

from conftest import CLI_TIMEOUT_S, Cluster, run_at_once, shared_pg_cluster, unique_email

API_DIR = Path(__file__).resolve().parent.parent / "api"
NODES = 3
EMAILS = 30
DELIVERY_TIMEOUT_S = 60


def load_sink_class():
    spec = importlib.util.spec_from_file_location("froth_smtp_sink", API_DIR / "smtp_sink.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.SmtpSink


SmtpSink = load_sink_class()


@pytest.fixture
def sink():
    relay = SmtpSink()
    yield relay
    relay.close()


@pytest.fixture
def mail_cluster(tmp_path):
    app = json.loads((API_DIR / "apps" / "sessions.json").read_text(encoding="utf-8"))
    app.setdefault("settings", {})["email"] = {"from": "no-reply@sessions.test"}
    app_path = tmp_path / "sessions-email.json"
    app_path.write_text(json.dumps(app), encoding="utf-8")
    nodes = Cluster(shared_pg_cluster(), tmp_path, app_path)
    yield nodes
    nodes.stop_and_check()


def test_each_email_sent_once_across_nodes(mail_cluster, sink):
    nodes = mail_cluster.start_nodes(NODES, ["--smtp-url", sink.url, "--smtp-starttls",
                                             "optional", "--scheduler-poll-ms", "10",
                                             "--smtp-retry-ms", "20"])
    recipients = [unique_email("multi").lower() for _ in range(EMAILS)]
    for i, recipient in enumerate(recipients):
        mail_cluster.signup(nodes[i % NODES], email=recipient)
    # A temporary failure for some, so retries are claimed across nodes too.
    for recipient in recipients[::5]:
        sink.fail_rcpt(recipient, 451)

    calls = [lambda session, node=nodes[i % NODES], recipient=recipient:
             node.send(session, "POST", "/api/1.1/wf/forgot", json={"email": recipient})
             for i, recipient in enumerate(recipients)]
    responses = run_at_once(calls)
    assert [getattr(r, "status_code", r) for r in responses] == [200] * EMAILS

    # Once every row is sent, no node can claim one again, so what the relay has received is final.
    deadline = time.monotonic() + DELIVERY_TIMEOUT_S
    while outbox_statuses(mail_cluster) != {"sent": EMAILS} and time.monotonic() < deadline:
        time.sleep(0.05)
    assert outbox_statuses(mail_cluster) == {"sent": EMAILS}
    counts = [len(sink.received(r)) for r in recipients]
    assert counts.count(1) == EMAILS, f"deliveries per email: {counts}"
    assert sent_lines(nodes) == EMAILS
    for recipient in recipients[::5]:
        assert sink.attempts(recipient) == 2
    senders = [node for node in nodes if '"email sent"' in node.output()]
    print(f"{EMAILS} emails over {NODES} nodes; nodes that sent some: {len(senders)}")


def outbox_statuses(cluster):
    """Return {status: count} over the cluster's outbox."""
    settings = cluster.pg.settings
    psql = os.path.join(settings["FROTH_PG_BINDIR"], "psql")
    result = subprocess.run([psql, "-X", "-A", "-t", "-F", "\t", "-h", settings["PGHOST"],
                             "-p", settings["PGPORT"], "-U", settings["PGUSER"],
                             "-d", cluster.database,
                             "-c", "SELECT status, count(*) FROM _froth_outbox GROUP BY status"],
                            capture_output=True, text=True, timeout=CLI_TIMEOUT_S, check=True)
    pairs = [line.split("\t") for line in result.stdout.splitlines() if line]
    return {status: int(count) for status, count in pairs}


def sent_lines(nodes):
    return sum(node.output().count('msg="email sent"') for node in nodes)
