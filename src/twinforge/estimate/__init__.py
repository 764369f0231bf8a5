"""How long a fine-tune takes and how much memory it needs (GPU profiles, model shapes, a calibrated run here), and the pretraining arithmetic."""
