"""Flower app of the Tributary-vs-Flower benchmark (tools/bench/flower)."""
