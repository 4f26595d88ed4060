"""Triggers of the Gradient provider (deferrable waits in the triggerer)."""
