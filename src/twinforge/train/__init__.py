"""The train stage: base models (base.py), devices (device.py), examples → packed token rows (data.py), the chunked
loss (loss.py), one SFT function (sft.py), the adapter registry (registry.py) and the workspace/recipe runner
(stage.py)."""
