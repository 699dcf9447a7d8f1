"""`python -m src.model_utils.config > docs/configuration.md`: print the configuration reference."""
from src.model_utils.config.reference import reference_markdown

print(reference_markdown(), end="")
