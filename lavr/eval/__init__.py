"""Evaluation: datasets, the runner, reports, comparisons and metrics.

    from lavr.eval import AgentSpec, load_dataset, run_eval
    summary = run_eval(load_dataset("examples/eval/people.jsonl"), agent_factory=AgentSpec(llm="local"),
                       out=Path("results.jsonl"))
    print(summary.line())  # accuracy: 0.833 (18 questions)
"""

from .compare import compare_files, compare_results, format_comparison
from .dataset import EvalDataset, EvalRow, load_dataset
from .report import EvalReport, build_report, format_report, report_from_file, summary_line
from .results import read_results
from .runner import EvalSummary, run_eval
from .spec import AgentSpec

__all__ = ["AgentSpec", "EvalDataset", "EvalReport", "EvalRow", "EvalSummary", "build_report", "compare_files",
           "compare_results", "format_comparison", "format_report", "load_dataset", "read_results",
           "report_from_file", "run_eval", "summary_line"]
