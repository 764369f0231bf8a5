"""Text tools every stage may use: language detection, lemmas with parts of speech. Imports nothing above it."""
