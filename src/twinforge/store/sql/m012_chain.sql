-- m012_chain: chained training (`twinforge train --batch-lines N --chain`). Each batch is an adapter row that
-- also records the batch it was trained after, the hash of its own examples (the resume key) and what the
-- forgetting gate found. The adapter folder's chain.json is the truth; these columns index it.
ALTER TABLE adapters ADD COLUMN chain TEXT;                     -- the chain's name (the adapter id prefix)
ALTER TABLE adapters ADD COLUMN chain_parent TEXT;              -- the accepted batch this one was trained after
ALTER TABLE adapters ADD COLUMN data_hash TEXT;                 -- sha256[:16] of the batch's own examples (no replay)
ALTER TABLE adapters ADD COLUMN status TEXT NOT NULL DEFAULT 'ok';  -- ok | flagged | rejected (forgetting gate)
ALTER TABLE adapters ADD COLUMN gate TEXT NOT NULL DEFAULT '{}';    -- JSON: the gate's figures and findings
CREATE INDEX IF NOT EXISTS adapters_chain ON adapters(chain, data_hash);
