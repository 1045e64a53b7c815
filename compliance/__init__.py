"""Frameworks, requirements and controls (HIPAA, SOX, GLBA), evaluations, evidence and evidence packs."""
