"""What the results say: statistics, the study's claims, the answer, tables."""
