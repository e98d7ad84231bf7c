"""Tests for the verifier package (the trust root)."""
