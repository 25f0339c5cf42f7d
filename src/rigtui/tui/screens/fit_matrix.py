from textual.widgets import Footer, Header, Static
from rigtui.tui.screens.base import ExplorerScreen
class FitMatrixScreen(ExplorerScreen):
    def compose(self):
        yield Header(icon="*")
        yield Static("todo")
        yield Footer(compact=True)
