"""The clean stage end to end on the sample archive and the seeds, through the CLI, into a real store."""

from __future__ import annotations

import json

from conftest import SAMPLE, rows

# ids from examples/sample-archive/README.md
DISTILL = "68381a57-0c81-8008-9619-5537f94f39f9"
BORSCH = "67d4450d-9222-8006-a8a0-cbce38b0eaca"
WEATHER = "6803da1d-6877-8008-b95a-c77dbed494de"
TRANSLATE = "67a9eef0-efab-800a-8f81-f2b9d27d7be1"
HELLO = "677a4a1e-d4db-8006-a97a-2491e471b9b0"
SECRETS = "68189391-e6de-8009-8876-28b2412a72d2"
DUPLICATE_Q = "687d4702-7a54-800c-bd74-777ab8565a0d"
SUBSTANCE = [DISTILL, "68564364-5ddb-8000-bc0c-75e5e20c599e", "6866aa23-8e90-8000-bf68-72da97af9daa",
             "686b6468-b737-800e-9ecb-91af0fc806fa", "683df050-0654-8003-8205-988f86e8de81"]


def verdict(ws, cid):
    return rows(ws, "SELECT label FROM clean_conversations WHERE conversation_id = ?", cid)[0]["label"]


def test_chatter_goes_and_substance_stays(cleaned):
    for cid in (BORSCH, WEATHER, TRANSLATE, HELLO):
        assert verdict(cleaned, cid) == "chatter", cid
    for cid in SUBSTANCE:
        assert verdict(cleaned, cid) == "substance", cid
    reasons = {r["reason"] for r in rows(cleaned, "SELECT reason FROM clean_messages WHERE conversation_id = ?", BORSCH)}
    assert reasons == {"chatter"} | ({"system", "hidden"} & reasons)


def test_every_message_has_a_verdict_and_reason(cleaned):
    n_msgs = rows(cleaned, "SELECT count(*) AS n FROM messages")[0]["n"]
    assert rows(cleaned, "SELECT count(*) AS n FROM clean_messages")[0]["n"] == n_msgs
    assert not rows(cleaned, "SELECT 1 FROM clean_messages WHERE reason IS NULL OR reason = ''")


def test_boilerplate_is_stripped_and_recorded(cleaned):
    answers = rows(cleaned, "SELECT c.text, c.stripped, m.text AS raw FROM clean_messages c JOIN messages m"
                            " ON m.id = c.message_id WHERE c.conversation_id = ? AND m.role = 'assistant'"
                            " AND c.keep = 1", DISTILL)
    stripped = [a for a in answers if a["stripped"]]
    assert stripped, "the distillation answers open with flattery and close with offers"
    for a in stripped:
        for span in json.loads(a["stripped"]):
            assert span["text"] in a["raw"]
        assert "Хочешь — я прямо сейчас" not in a["text"]
        assert "|" in a["text"] or "```" in a["text"] or len(a["text"]) > 100  # content stays


def test_secrets_are_redacted_before_anyone_reads_them(cleaned, tf):
    texts = [r["text"] for r in rows(cleaned, "SELECT text FROM clean_messages WHERE conversation_id = ?", SECRETS)]
    joined = "\n".join(texts)
    assert "sk-proj-Q7vLm2" not in joined and "ivan.petrov.twin@mail.ru" not in joined
    assert "<SECRET:openai_key>" in joined and "<EMAIL>" in joined and "<PHONE>" in joined
    out = tf("messages", "--json", "--cleaned").output
    assert "sk-proj-Q7vLm2" not in out and "ivan.petrov.twin@mail.ru" not in out


def test_exact_duplicate_question_links_to_the_kept_copy(cleaned):
    dup = rows(cleaned, "SELECT * FROM clean_messages WHERE reason = 'duplicate'")
    assert dup, "the first question of 'Глубина дистилляции' repeats the distillation conversation's first"
    for d in dup:
        kept = rows(cleaned, "SELECT keep FROM clean_messages WHERE message_id = ?", d["duplicate_of"])
        assert kept and kept[0]["keep"] == 1
    assert {d["conversation_id"] for d in dup} & {DISTILL, DUPLICATE_Q}


def test_funnel_reconciles(cleaned, tf):
    r = tf("funnel", "--json")
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    steps = {s["step"]: s for s in out["steps"]}
    order = ["raw", "dialog only", "without chatter", "without boilerplate", "deduplicated", "redacted"]
    assert [s["step"] for s in out["steps"]] == order
    for a, b in zip(order, order[1:]):
        assert steps[b]["messages"] <= steps[a]["messages"]
        assert steps[b]["characters"] <= steps[a]["characters"] or b == "redacted"
    counts = {r["reason"]: r["n"] for r in rows(cleaned, "SELECT reason, count(*) AS n FROM clean_messages GROUP BY reason")}
    assert steps["raw"]["messages"] == sum(counts.values())
    assert steps["dialog only"]["messages"] - steps["without chatter"]["messages"] == counts.get("chatter", 0)
    assert steps["without chatter"]["messages"] - steps["without boilerplate"]["messages"] == counts.get("empty", 0)
    assert steps["without boilerplate"]["messages"] - steps["deduplicated"]["messages"] == (
        counts.get("duplicate", 0) + counts.get("near-duplicate", 0))
    kept = rows(cleaned, "SELECT count(*) AS n, sum(chars) AS c FROM clean_messages WHERE keep = 1")[0]
    assert steps["redacted"]["messages"] == kept["n"] and steps["redacted"]["characters"] == kept["c"]
    assert steps["without boilerplate"]["characters"] < steps["without chatter"]["characters"]
    html = open(out["html"], encoding="utf-8").read()
    assert "<svg" in html and "deduplicated" in html


def test_keep_and_drop_survive_reruns(cleaned, tf):
    assert tf("keep", BORSCH, "--note", "I like this recipe").exit_code == 0
    kept = rows(cleaned, "SELECT reason FROM clean_messages WHERE conversation_id = ? AND reason = 'kept-by-user'",
                BORSCH)
    assert kept
    dialog = rows(cleaned, "SELECT message_id FROM clean_messages WHERE conversation_id = ? AND keep = 1", DISTILL)
    assert tf("drop", dialog[0]["message_id"]).exit_code == 0
    assert tf("clean").exit_code == 0  # a re-run recomputes everything, then applies the overrides
    assert rows(cleaned, "SELECT count(*) AS n FROM clean_messages WHERE conversation_id = ? AND keep = 1",
                BORSCH)[0]["n"] >= 2
    assert rows(cleaned, "SELECT reason FROM clean_messages WHERE message_id = ?",
                dialog[0]["message_id"])[0]["reason"] == "dropped-by-user"
    r = tf("keep", "no-such-id")
    assert r.exit_code == 1 and r.stderr.startswith("error: no conversation or message")


def test_rejects_lists_reasons(cleaned, tf):
    lines = [json.loads(x) for x in tf("rejects", "--reason", "chatter", "--json").output.splitlines()]
    assert lines and {x["reason"] for x in lines} == {"chatter"}
    assert all(x["detail"] for x in lines)  # the classifier's reason travels with the reject
    structural = tf("rejects", "--all", "--json").output
    assert '"reason": "system"' in structural or '"reason": "hidden"' in structural


def test_rerun_is_idempotent_and_reuses_verdicts(cleaned, tf):
    before = [tuple(r) for r in rows(cleaned, "SELECT message_id, keep, reason, text FROM clean_messages ORDER BY 1")]
    r = tf("clean", "--json")
    report = json.loads(r.output)
    assert report["verdicts_reused"] == report["conversations"]["substance"] + report["conversations"]["chatter"]
    after = [tuple(r) for r in rows(cleaned, "SELECT message_id, keep, reason, text FROM clean_messages ORDER BY 1")]
    assert before == after


def test_dry_run_writes_nothing(tf, workspace):
    tf("ingest", SAMPLE)
    r = tf("clean", "--dry-run")
    assert r.exit_code == 0, r.output
    assert "before:" in r.output and "after:" in r.output and "dry run" in r.output
    assert not rows(workspace, "SELECT 1 FROM clean_messages")


def test_cleaned_messages_have_language(cleaned, tf):
    msgs = [json.loads(x) for x in tf("messages", "--json", "--cleaned", "-c", DISTILL).output.splitlines()]
    assert msgs and {m["language"] for m in msgs} == {"ru"}


def test_seeds_are_substance_and_lose_their_flattery(tf, seeds, workspace):
    tf("ingest", seeds)
    assert tf("clean").exit_code == 0
    labels = rows(workspace, "SELECT label FROM clean_conversations")
    assert [r["label"] for r in labels] == ["substance"] * 5
    first = rows(workspace, "SELECT c.text FROM clean_messages c JOIN messages m ON m.id = c.message_id"
                            " WHERE m.uid = (SELECT uid FROM messages WHERE role = 'assistant' AND text LIKE"
                            " 'Ты ставишь ключевой вопрос%')")
    assert first and not first[0]["text"].startswith("Ты ставишь ключевой вопрос")
    assert "| Уровень |" in first[0]["text"].replace("|--------|", "")  # the table stays


def test_clean_before_ingest_is_one_line(tf, tmp_path):
    r = tf("clean", ws=tmp_path / "empty")
    assert r.exit_code == 1 and r.stderr.startswith("error:")
