"""A typed client of the REST API (``baton serve``), used by the CLI when ``BATON_URL`` is set.

```python
from baton.client import BatonClient

async with BatonClient("http://127.0.0.1:8000", api_key) as baton:
    started = await baton.orchestrate("read notes.txt and summarize it")
```
"""

from baton.client.client import BatonClient as BatonClient
from baton.client.errors import AuthenticationError as AuthenticationError
from baton.client.errors import ConflictError as ConflictError
from baton.client.errors import ServerError as ServerError
from baton.client.errors import ServerUnreachableError as ServerUnreachableError

__all__ = [
    "AuthenticationError",
    "BatonClient",
    "ConflictError",
    "ServerError",
    "ServerUnreachableError",
]
