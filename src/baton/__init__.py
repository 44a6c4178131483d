"""baton: plain-language requests become validated DAGs of agent steps, run durably.

```python
import anyio
import baton

@baton.agent(description="Greet someone.")
async def greet(name: str) -> str:
    return f"hello {name}"

async def main() -> None:
    async with baton.Baton.open(agents=[greet]) as b:
        plan = baton.Plan(steps=[baton.Step(id="hi", agent="greet", inputs={"name": "Dana"})])
        result = await b.run(plan)
        print(result.outputs["hi"])

anyio.run(main)
```
"""

from baton.agents import Agent as Agent
from baton.agents import AgentContext as AgentContext
from baton.agents import AgentRegistry as AgentRegistry
from baton.agents import AgentSpec as AgentSpec
from baton.agents import Risk as Risk
from baton.agents import agent as agent
from baton.app import Baton as Baton
from baton.app import RunHandle as RunHandle
from baton.core.executor import ExecutionResult as ExecutionResult
from baton.core.plan import Plan as Plan
from baton.core.plan import RetryPolicy as RetryPolicy
from baton.core.plan import Step as Step
from baton.core.plan import StepPolicy as StepPolicy
from baton.core.plan_loader import load_plan as load_plan
from baton.core.plan_loader import parse_plan as parse_plan
from baton.errors import BatonError as BatonError
from baton.errors import PlanningError as PlanningError
from baton.errors import PlanValidationError as PlanValidationError
from baton.errors import RunError as RunError
from baton.errors import UsageError as UsageError
from baton.events import RunEvent as RunEvent
from baton.settings import Settings as Settings

__version__ = "0.1.0"

__all__ = [
    "Agent",
    "AgentContext",
    "AgentRegistry",
    "AgentSpec",
    "Baton",
    "BatonError",
    "ExecutionResult",
    "Plan",
    "PlanValidationError",
    "PlanningError",
    "RetryPolicy",
    "Risk",
    "RunError",
    "RunEvent",
    "RunHandle",
    "Settings",
    "Step",
    "StepPolicy",
    "UsageError",
    "__version__",
    "agent",
    "load_plan",
    "parse_plan",
]
