"""The console in a real browser (Debian's chromium, driven by Playwright) against a running gateway fed
through mosquitto: the crew's repair loop end to end, roles, crew scope, CSRF, kits without coordinates,
and a screenshot of every page at desktop (1280) and phone (390) width.

Screenshots go to $LAMPFLEET_SCREENSHOTS, else a temporary directory printed in the test output.
"""
from __future__ import annotations

import json

import playwright.sync_api as playwright_api
import pytest

from gateway.tests.console_stack import PASSWORD, ConsoleStack
from gateway.tests.console_stack import login as console_login
from gateway.tests.receivers import wait_for

DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
CREW_PHONE = {"width": 360, "height": 740}  # the smallest phone


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    s = ConsoleStack(tmp_path_factory.mktemp("console"))
    s.step(30)  # noon to 17:00: every lamp has reported, all healthy
    yield s
    s.close()


def login(browser, stack, name: str, viewport=DESKTOP):  # type: ignore[no-untyped-def]
    return console_login(browser, stack.url, name, viewport)


def csrf(page) -> str:  # type: ignore[no-untyped-def]
    return page.get_attribute("body", "data-csrf")


def test_led_fails_alert_live_crew_acks_on_phone_repair_resolves(stack, browser, shots):
    expect = playwright_api.expect
    op_ctx, overview = login(browser, stack, "ops")
    expect(overview.locator("#live-alerts")).not_to_contain_text("BGI-0001")
    overview.evaluate("window.stillTheSamePage = true")
    overview.wait_for_timeout(1500)  # the event stream has sent its first state

    stack.fleet[0].faults.add("led_open")
    stack.step(20)  # to 20:20: dark after dusk, alert after raise_after observations
    [(alert_id,)] = stack.sql("SELECT id FROM alerts WHERE lamp_id='BGI-0001' AND state='firing'")
    expect(overview.locator("#live-alerts")).to_contain_text(f"#{alert_id} BGI-0001", timeout=15_000)
    assert overview.evaluate("window.stillTheSamePage") is True  # arrived live, no reload
    overview.screenshot(path=str(shots / "overview-live-alert-1280.png"), full_page=True)

    crew_ctx, phone = login(browser, stack, "jean", CREW_PHONE)
    phone.goto("/alerts")
    phone.click(f"text=#{alert_id} BGI-0001")
    phone.fill("form[action$='/ack'] input[name=comment]", "en route, 20 min")
    phone.click("form[action$='/ack'] button")
    expect(phone.locator("#alert-state")).to_have_text("prise en charge")
    phone.screenshot(path=str(shots / "crew-alert-acknowledged-360.png"), full_page=True)
    phone.click("a[href='/lamps/BGI-0001']")
    phone.click("text=LED remplacée")
    expect(phone.locator(".flash")).to_contain_text("Réparation notée")
    [(dl_id, command)] = stack.sql("SELECT id, json_extract(body, '$.command') FROM downlinks WHERE lamp_id='BGI-0001'")
    assert command == "status_now"
    expect(phone.locator("#downlinks")).to_contain_text("en attente")

    stack.fleet[0].faults.discard("led_open")  # the crew fitted a new LED
    stack.step(1)
    stack.dlack(0, dl_id)
    stack.step(3)
    assert wait_for(lambda: stack.sql("SELECT state, resolved_by FROM alerts WHERE id=?", (alert_id,))[0] ==
                    ("resolved", "gateway"), 20)
    assert wait_for(lambda: stack.sql("SELECT state FROM downlinks WHERE id=?", (dl_id,))[0][0] == "acked", 20)
    # the crew's open lamp page follows without a reload: the dlack and the resolution arrive live
    expect(phone.locator("#downlinks")).to_contain_text("confirmée", timeout=15_000)
    expect(phone.locator("#lamp-alerts")).to_contain_text("résolue", timeout=15_000)
    phone.screenshot(path=str(shots / "crew-lamp-repaired-360.png"), full_page=True)
    trail = [r[0] for r in stack.sql("SELECT action || ':' || actor FROM audit WHERE alert_id=? OR lamp_id='BGI-0001' "
                                     "ORDER BY id", (alert_id,)) if not r[0].startswith("notify")]
    assert trail == ["raise:gateway", "ack:jean", "repair-led_replaced:jean", "resolve:gateway"], trail
    op_ctx.close()
    crew_ctx.close()


def test_crew_pages_work_without_javascript(stack, browser):
    """Forms first: with scripts off, a crew still logs in, acknowledges and queues a repair."""
    expect = playwright_api.expect
    stack.fleet[1].faults.add("led_open")
    stack.step(4)
    [(alert_id,)] = stack.sql("SELECT id FROM alerts WHERE lamp_id='BGI-0002' AND state='firing'")
    ctx = browser.new_context(viewport=CREW_PHONE, base_url=stack.url, java_script_enabled=False)
    page = ctx.new_page()
    page.goto("/alerts")  # to the login page, and back here after it
    page.fill("input[name=name]", "jean")
    page.fill("input[name=password]", PASSWORD)
    page.click("form button")
    page.click(f"text=#{alert_id} BGI-0002")
    page.click("form[action$='/ack'] button")
    expect(page.locator("#alert-state")).to_have_text("prise en charge")
    page.click("a[href='/lamps/BGI-0002']")
    page.click("text=Batterie remplacée")
    expect(page.locator(".flash")).to_contain_text("file d'attente")
    assert stack.sql("SELECT json_extract(body, '$.command') FROM downlinks WHERE lamp_id='BGI-0002'") == [
        ("battery_replaced",)]
    stack.fleet[1].faults.discard("led_open")
    stack.step(3)
    ctx.close()


def test_viewer_cannot_act(stack, browser):
    ctx, page = login(browser, stack, "vera")
    [(alert_id,)] = stack.sql("SELECT max(id) FROM alerts")
    page.goto("/lamps/BGI-0005")
    assert page.locator("form[action$='/repair']").count() == 0
    page.goto(f"/alerts/{alert_id}")
    assert page.locator("form[action$='/ack'], form[action$='/resolve']").count() == 0
    token = csrf(page)
    for path, form in ((f"/lamps/BGI-0005/repair", {"action": "time_sync"}),
                       (f"/alerts/{alert_id}/resolve", {"comment": "x"}),
                       ("/silences", {"matchers": "site=Lakouanga", "duration": "2h", "comment": "x"}),
                       ("/users", {"name": "eve", "password": "x" * 12, "role": "admin"})):
        r = page.request.post(path, form={**form, "csrf": token})
        assert r.status == 403, (path, r.status)
    assert stack.sql("SELECT count(*) FROM downlinks WHERE lamp_id='BGI-0005'") == [(0,)]
    assert stack.sql("SELECT count(*) FROM users WHERE name='eve'") == [(0,)]
    ctx.close()


def test_crew_cannot_see_another_crews_sites(stack, browser):
    ctx, page = login(browser, stack, "paul", CREW_PHONE)  # crew sud: Boy-Rabe
    page.goto("/lamps")
    listed = page.locator("tbody a").all_inner_texts()
    assert listed == ["BGI-0004", "BGI-0005", "KIT-0001"], listed
    assert "Lakouanga" not in page.content()
    assert page.goto("/lamps/BGI-0001").status == 403
    [(alert_id,)] = stack.sql("SELECT max(id) FROM alerts WHERE crew='nord'")
    assert page.goto(f"/alerts/{alert_id}").status == 403
    page.goto("/alerts?state=all")
    assert "BGI-0001" not in page.content()
    page.goto("/")
    r = page.request.post("/lamps/BGI-0001/repair", form={"action": "time_sync", "csrf": csrf(page)})
    assert r.status == 403
    assert stack.sql("SELECT count(*) FROM downlinks WHERE json_extract(body, '$.command')='time_sync'") == [(0,)]
    ctx.close()


def test_posts_without_the_csrf_token_are_refused(stack, browser):
    ctx, page = login(browser, stack, "ops")
    page.goto("/lamps/BGI-0003")
    before = stack.sql("SELECT count(*) FROM downlinks")
    assert page.request.post("/lamps/BGI-0003/repair", form={"action": "time_sync"}).status == 403
    assert page.request.post("/lamps/BGI-0003/repair", form={"action": "time_sync", "csrf": "forged"}).status == 403
    # a form another site submits: the browser names that site in Origin
    r = page.request.post("/lamps/BGI-0003/repair", form={"action": "time_sync", "csrf": csrf(page)},
                          headers={"Origin": "http://evil.example"})
    assert r.status == 403
    status = page.evaluate("""async () => (await fetch('/lamps/BGI-0003/repair', {method: 'POST',
        headers: {'Content-Type': 'application/x-www-form-urlencoded'}, body: 'action=time_sync'})).status""")
    assert status == 403
    assert stack.sql("SELECT count(*) FROM downlinks") == before
    # the same request with the token is done
    assert page.request.post("/lamps/BGI-0003/repair", form={"action": "time_sync", "csrf": csrf(page)}).ok
    assert stack.sql("SELECT count(*) FROM downlinks")[0][0] == before[0][0] + 1
    ctx.close()


def test_kits_show_no_coordinates_in_html_or_api(stack, browser):
    ctx, page = login(browser, stack, "admin")
    assert stack.sql("SELECT lat, lon FROM lamps WHERE lamp_id='KIT-0001'") == [(None, None)]
    kit_page = page.goto("/lamps/KIT-0001").text()
    assert "Boy-Rabe" in kit_page and "Position" not in kit_page
    map_page = page.goto("/map").text()
    assert "/lamps/KIT-0001" not in map_page and "Boy-Rabe" in map_page  # listed by district only
    assert page.locator("svg.map circle").count() == 5
    from gateway import db
    from gateway.api.tokens import ApiTokens

    conn = db.connect(stack.settings.database)
    token = ApiTokens(conn).add("kit-check", 0)
    conn.close()
    api = page.request
    auth = {"Authorization": f"Bearer {token}"}
    lamps = api.get("/api/v1/lamps", headers=auth).json()
    [kit] = [lp for lp in lamps if lp["lamp_id"] == "KIT-0001"]
    assert "lat" not in kit and "lon" not in kit and kit["district"] == "Boy-Rabe"
    one = api.get("/api/v1/lamps/KIT-0001", headers=auth).json()
    assert "lat" not in one and "lon" not in one
    fleet = json.dumps(api.get("/api/v1/fleet", headers=auth).json())
    assert '"lat"' not in fleet
    ctx.close()


PAGES = ["/", "/alerts", "/lamps", "/lamps/BGI-0001", "/map", "/reports", "/labels?site=Lakouanga", "/users", "/audit"]


def test_screenshots_of_every_page(stack, browser, shots):
    ctx = browser.new_context(viewport=DESKTOP, base_url=stack.url)
    page = ctx.new_page()
    page.goto("/login")
    page.screenshot(path=str(shots / "login-1280.png"))
    ctx.close()
    alerts = [f"/alerts/{row[0]}" for row in stack.sql("SELECT min(id) FROM alerts") if row[0]]
    for width_name, viewport in (("1280", DESKTOP), ("390", PHONE)):
        ctx, page = login(browser, stack, "admin", viewport)
        for path in PAGES + alerts:
            response = page.goto(path)
            assert response.status == 200, path
            # nothing wider than the screen (a table may scroll inside its own box)
            overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 0, (path, width_name, overflow)
            name = path.strip("/").split("?")[0].replace("/", "-") or "overview"
            page.screenshot(path=str(shots / f"{name}-{width_name}.png"), full_page=True)
        ctx.close()
