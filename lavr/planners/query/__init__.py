"""Query mode: the prompt (static prefix, worked examples) and the planner; the language and its exact executor
are the ``query`` tool's (``lavr.tools.query``)."""

from .planner import QueryPlanner
from .prompt import QueryPrompt, WorkedExample, load_worked_examples

__all__ = ["QueryPlanner", "QueryPrompt", "WorkedExample", "load_worked_examples"]
