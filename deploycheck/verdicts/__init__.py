"""Verdicts: compare the facts about a deploy folder with the rubric, one module per check-id prefix."""
