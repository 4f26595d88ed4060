"""Benchmark harness of the optimiser (replay, suite, the emulator's oracle): a dev tool, never imported at runtime."""
