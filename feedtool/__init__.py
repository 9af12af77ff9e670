"""feedtool: feeds for sites that have none."""

__version__ = "0.1.0"
PROJECT_URL = "https://github.com/feedtool/feedtool"
USER_AGENT = f"feedtool/{__version__} (+{PROJECT_URL})"
