"""Regression tests of issue 13: each finding of the attack on a live netmon, and its
general guard."""
