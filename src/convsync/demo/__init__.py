"""`convsync demo`: a real end-to-end sync on the embedded default, told as a story."""
