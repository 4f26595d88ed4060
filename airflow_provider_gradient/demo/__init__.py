"""``make demo``: the whole Gradient loop on a laptop, against the local Databricks emulator."""
