"""Launch the leadership coach in the browser: python app.py"""

from assistant.ui import launch

if __name__ == "__main__":
    launch()
