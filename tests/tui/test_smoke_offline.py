from __future__ import annotations

from pos_app.tui.app import make_app


async def test_cash_sale_offline(demo_settings, journal_engine, offline_client):
    app = make_app(demo_settings, engine_client=offline_client, journal_engine=journal_engine)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press(*"1234", "enter")
        await pilot.pause()
        await pilot.press("1", "2", ".", "5", "c")
        await pilot.pause()
        await pilot.press(*"20", "enter")
        await pilot.pause()
        print(app.screen, app.export_screenshot)
        app.save_screenshot("/tmp/h7shot.svg")
        assert type(app.screen).__name__ == "ResultScreen"
