import os

# Idle OpenMP threads sleep instead of spinning: spinning torch threads fight the simulator and
# other processes for the cores, and a tiny training step then takes 100x longer. libgomp reads
# this when torch is first imported, which the fixtures of this package (conftest.py) do.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
