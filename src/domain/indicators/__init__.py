"""The indicators: the facts they are computed from, their definitions and goals."""
