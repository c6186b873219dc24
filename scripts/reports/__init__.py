"""Evaluation reports: per-case metric tables and their summary."""

from .case_report import CaseMetricsReport, write_case_report

__all__ = ["CaseMetricsReport", "write_case_report"]
