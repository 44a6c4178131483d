"""Workspaces, their members and API keys; and ``/api/me``.

A key belongs to one workspace, so a caller sees that workspace only; an admin may create
new workspaces (each with its own first admin and key).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response, status

from baton.api.auth import CurrentPrincipal, Services, requires
from baton.api.convert import key_out, member_out, workspace_out
from baton.enterprise.roles import Permission, Role
from baton.enterprise.tenancy import Principal
from baton.wire import (
    ApiKeyCreated,
    ApiKeyIn,
    ApiKeyOut,
    MemberIn,
    MemberOut,
    MemberUpdate,
    PrincipalOut,
    WorkspaceCreated,
    WorkspaceIn,
    WorkspaceOut,
)

router = APIRouter(prefix="/api", tags=["workspaces"])

MemberReader = Annotated[Principal, Depends(requires(Permission.MEMBERS_READ))]
MemberManager = Annotated[Principal, Depends(requires(Permission.MEMBERS_MANAGE))]
KeyReader = Annotated[Principal, Depends(requires(Permission.KEYS_READ_OWN))]
KeyManager = Annotated[Principal, Depends(requires(Permission.KEYS_MANAGE_OWN))]
WorkspaceCreator = Annotated[Principal, Depends(requires(Permission.WORKSPACES_CREATE))]


@router.get("/me", summary="Who the API key belongs to")
async def me(principal: CurrentPrincipal) -> PrincipalOut:
    """User, workspace and role of the caller."""
    return PrincipalOut(
        user_id=principal.user_id,
        name=principal.name,
        kind=principal.kind,
        workspace_id=principal.workspace_id,
        role=principal.role.value,  # type: ignore[arg-type]  # Role values are the literal's
        key_id=principal.key_id,
    )


@router.get("/workspaces", summary="The workspaces the caller can see (their own)")
async def list_workspaces(services: Services, principal: CurrentPrincipal) -> list[WorkspaceOut]:
    """A key sees the workspace it belongs to."""
    return [workspace_out(await services.tenancy_store.get_workspace(principal.workspace_id))]


@router.get("/workspaces/current", summary="The caller's workspace")
async def current_workspace(services: Services, principal: CurrentPrincipal) -> WorkspaceOut:
    """The workspace of the caller's key."""
    return workspace_out(await services.tenancy_store.get_workspace(principal.workspace_id))


@router.post(
    "/workspaces",
    status_code=status.HTTP_201_CREATED,
    summary="Create a workspace with its first admin (their key is shown once)",
)
async def create_workspace(
    body: WorkspaceIn, services: Services, principal: WorkspaceCreator
) -> WorkspaceCreated:
    """Admins only."""
    workspace, token = await services.tenancy.create_workspace(
        body.name, body.admin_name, by=principal
    )
    return WorkspaceCreated(workspace=workspace_out(workspace), admin_key=token)


@router.get("/workspace/members", summary="Users and service accounts of the workspace")
async def list_members(services: Services, principal: MemberReader) -> list[MemberOut]:
    """Everyone in the caller's workspace."""
    return [member_out(u) for u in await services.tenancy.list_users(principal)]


@router.post("/workspace/members", status_code=status.HTTP_201_CREATED, summary="Add a member")
async def add_member(body: MemberIn, services: Services, principal: MemberManager) -> MemberOut:
    """Admins only; give them a key with POST /api/workspace/keys."""
    user = await services.tenancy.add_user(principal, body.name, Role(body.role), kind=body.kind)
    return member_out(user)


@router.patch("/workspace/members/{user_id}", summary="Change a member's role")
async def set_role(
    user_id: str, body: MemberUpdate, services: Services, principal: MemberManager
) -> MemberOut:
    """Admins only; the last admin cannot be demoted."""
    return member_out(await services.tenancy.set_role(principal, user_id, Role(body.role)))


@router.delete(
    "/workspace/members/{user_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Remove a member (their keys stop working)",
)
async def remove_member(user_id: str, services: Services, principal: MemberManager) -> Response:
    """Admins only; the last admin cannot be removed."""
    await services.tenancy.remove_user(principal, user_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/workspace/keys", summary="API keys (admins: all; others: their own)")
async def list_keys(services: Services, principal: KeyReader) -> list[ApiKeyOut]:
    """Never the secrets."""
    return [key_out(k) for k in await services.tenancy.list_keys(principal)]


@router.post(
    "/workspace/keys",
    status_code=status.HTTP_201_CREATED,
    summary="Create an API key (the token is shown once)",
)
async def create_key(body: ApiKeyIn, services: Services, principal: KeyManager) -> ApiKeyCreated:
    """For yourself, or (admins) for another member such as a service account."""
    key, token = await services.tenancy.create_key(
        principal, name=body.name, user_id=body.user_id, expires_at=body.expires_at
    )
    return ApiKeyCreated(key=key_out(key), token=token)


@router.delete(
    "/workspace/keys/{key_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Revoke an API key",
)
async def revoke_key(key_id: str, services: Services, principal: KeyManager) -> Response:
    """Your own, or (admins) anyone's in the workspace; it stops working at once."""
    await services.tenancy.revoke_key(principal, key_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
