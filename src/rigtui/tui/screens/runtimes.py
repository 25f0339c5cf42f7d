from textual.widgets import Footer, Header, Static
from rigtui.tui.screens.base import ExplorerScreen
class RuntimesScreen(ExplorerScreen):
    def compose(self):
        yield Header(icon="*")
        yield Static("todo")
        yield Footer(compact=True)
