import { expect, test } from "vitest";
import { problemMessage, readCookie } from "./api";
import { parseHash } from "./router";

test("a problem's detail is the message, with its hint", () => {
  expect(problemMessage({ title: "Unauthenticated", detail: "a valid API key is required", hint: "send a key" }, 401)).toEqual({
    message: "a valid API key is required",
    hint: "send a key",
  });
  expect(problemMessage({ title: "Forbidden" }, 403)).toEqual({ message: "Forbidden", hint: null });
  expect(problemMessage("oops", 502).message).toBe("the server answered 502");
});

test("the CSRF cookie is read by name", () => {
  expect(readCookie("baton_csrf", "a=1; baton_csrf=abc%3D; b=2")).toBe("abc=");
  expect(readCookie("baton_csrf", "baton_csrf_x=1")).toBeNull();
});

test("hash routes", () => {
  const r = parseHash("#/executions/ex_1/steps/a%20b?x=1");
  expect(r.parts).toEqual(["executions", "ex_1", "steps", "a b"]);
  expect(r.query.get("x")).toBe("1");
  expect(parseHash("").parts).toEqual([]);
});
