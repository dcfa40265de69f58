"""Program mode: the program model (steps with references), its prompts and its planner."""

from .model import Program, ProgramStep, program_schema, validate_program
from .planner import ProgramPlanner, parse_program

__all__ = ["Program", "ProgramPlanner", "ProgramStep", "parse_program", "program_schema", "validate_program"]
