"""The store's typed reads (store/reads.py, store/listings.py, store/memory_reads.py) on the cleaned sample archive:
they agree with the tables they read, filter as documented, and keep the order callers rely on."""

from __future__ import annotations

from conftest import rows

from twinforge.store import Store, listings


def test_kept_messages_filters_and_orders(cleaned):
    cid = rows(cleaned, "SELECT conversation_id FROM clean_messages WHERE keep = 1 LIMIT 1")[0][0]
    with Store(cleaned, create=False) as store:
        with store.transaction() as db:  # the sample is one provider's export: make one conversation a paper
            db.execute("UPDATE conversations SET provider = 'paper' WHERE id = ?", (cid,))
        every = list(store.kept_messages(canonical=False, dialog=False, min_chars=None))
        providers = {r["id"]: r["provider"] for r in rows(cleaned, "SELECT id, provider FROM conversations")}
        some = "paper"
        only = list(store.kept_messages(canonical=False, dialog=False, min_chars=None, providers=(some,)))
        others = list(store.kept_messages(canonical=False, dialog=False, min_chars=None, exclude_providers=(some,)))
        dated = list(store.kept_messages(by_date=True))
    kept = rows(cleaned, "SELECT count(*) FROM clean_messages k JOIN messages m ON m.id = k.message_id"
                         " WHERE k.keep = 1 AND m.role IN ('user', 'assistant')")[0][0]
    assert len(every) == kept > 0
    assert only and others and len(only) + len(others) == len(every)  # the two filters partition the corpus
    assert {providers[k.conversation_id] for k in only} == {some}
    assert some not in {providers[k.conversation_id] for k in others}
    # by date: conversations in time order, undated ones last; each conversation's messages stay together
    dates = [k.conversation_created_at for k in dated]
    known = [d for d in dates if d is not None]
    assert known == sorted(known) and None not in dates[:len(known)]
    seen, last = set(), None
    for k in dated:
        if k.conversation_id != last:
            assert k.conversation_id not in seen
            seen.add(k.conversation_id)
            last = k.conversation_id


def test_dialog_turns_are_the_kept_dialog_or_the_raw_one_before_clean(cleaned):
    from twinforge.store.reads import dialog_turns

    cid = rows(cleaned, "SELECT conversation_id FROM clean_messages WHERE keep = 1 LIMIT 1")[0][0]
    with Store(cleaned, create=False) as store:
        turns = dialog_turns(store.db, cid)
        kept = [k for k in store.kept_messages(canonical=False, dialog=False) if k.conversation_id == cid]
        assert [(t.id, t.text) for t in turns] == [(k.id, k.text) for k in kept if k.text.strip()]
        with store.transaction() as db:
            db.execute("DELETE FROM clean_messages WHERE conversation_id = ?", (cid,))
        raw = dialog_turns(store.db, cid)
    expected = rows(cleaned, "SELECT id, text FROM messages WHERE conversation_id = ? AND kind = 'dialog'"
                             " AND canonical = 1 ORDER BY position", cid)
    assert [(t.id, t.text) for t in raw] == [(r["id"], r["text"]) for r in expected if r["text"].strip()]


def test_listings_match_the_tables(cleaned):
    with Store(cleaned, create=False) as store:
        counts = listings.counts(store)
        assert store.has_messages() and store.has_cleaned() and not store.has_modules()
        assert store.memory_embedder() is None and not store.has_memory()
        raw = list(listings.messages(store, all_branches=True))
        kept = list(listings.messages(store, cleaned=True, all_branches=True))
        first = raw[0].conversation_id
        assert store.has_conversation(first) and not store.has_conversation("no-such-conversation")
        one = list(listings.messages(store, conversation=first, all_branches=True, limit=2))
        rejects = listings.rejects(store)
        chatter = listings.rejects(store, reasons=("chatter",))
        total, page = listings.conversation_page(store, limit=3)
        detail = listings.conversation_detail(store, first)
        assert listings.conversation_detail(store, "no-such-conversation") is None
    assert counts["messages"] == len(raw) and counts["kept"] == len(kept)
    assert all(m.language is None for m in raw) and any(m.language for m in kept)
    assert 0 < len(one) <= 2 and {m.conversation_id for m in one} == {first}
    assert len(rejects) <= counts["rejected"] and all(r.reason == "chatter" for r in chatter)
    assert total == counts["conversations"] and len(page) == min(3, total)
    assert detail is not None and detail.row["id"] == first
    assert [m["id"] for m in detail.messages] == [m.id for m in raw if m.conversation_id == first]
