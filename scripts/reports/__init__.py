"""Evaluation reports: per-case metric tables and their summary, lesion detection and the worst-case figures."""

from .case_report import CaseMetricsReport, write_case_report
from .lesion_summary import LesionSummary

__all__ = ["CaseMetricsReport", "LesionSummary", "write_case_report"]
