"""What browser tests share besides fixtures: recording what a page's policy blocked."""

# Runs before any page script: records what the Content-Security-Policy blocked, including what never reaches the
# console.
RECORD_VIOLATIONS = """
window.cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.cspViolations.push(`${event.violatedDirective} blocked ${event.blockedURI || "inline"}`);
});
"""


def settle(page) -> None:
    """Let the page's scripts and htmx requests finish, and collect the policy violations it recorded."""
    page.wait_for_load_state("networkidle")
    page.problems += [f"{page.url}: {violation}" for violation in page.evaluate("window.cspViolations")]


def navigate(page, menu: str | None, entry: str) -> None:
    """Go to a page from the top bar as a person does: open its menu (Estate, Questionnaires, Compliance) first."""
    nav = page.locator("#nav")
    if menu is not None:
        nav.get_by_role("button", name=menu).or_(nav.get_by_role("link", name=menu)).first.click()
    nav.get_by_role("link", name=entry).first.click()
