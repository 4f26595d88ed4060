"""Operators and the pre_execute hook of the Gradient provider."""
