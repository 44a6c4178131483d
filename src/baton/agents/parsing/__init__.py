"""Sentence parsers shared by agents' input extractors (the offline planner's "own parsers").

`baton.agents.parsing.text` holds the generic ones (emails, URLs, paths, quotes, numbers);
dates and durations live in `baton.agents.parsing.temporal`, imported from there directly.
"""

from baton.agents.parsing.text import count_before as count_before
from baton.agents.parsing.text import find_emails as find_emails
from baton.agents.parsing.text import find_numbers as find_numbers
from baton.agents.parsing.text import find_paths as find_paths
from baton.agents.parsing.text import find_quoted as find_quoted
from baton.agents.parsing.text import find_urls as find_urls
from baton.agents.parsing.text import looks_like_path as looks_like_path
from baton.agents.parsing.text import mask as mask
from baton.agents.parsing.text import parse_count as parse_count
from baton.agents.parsing.text import refers_to_previous as refers_to_previous
from baton.agents.parsing.text import split_list as split_list
from baton.agents.parsing.text import without_quoted as without_quoted
from baton.agents.parsing.text import word_after as word_after

__all__ = [
    "count_before",
    "find_emails",
    "find_numbers",
    "find_paths",
    "find_quoted",
    "find_urls",
    "looks_like_path",
    "mask",
    "parse_count",
    "refers_to_previous",
    "split_list",
    "without_quoted",
    "word_after",
]
