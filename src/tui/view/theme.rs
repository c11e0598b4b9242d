//! Styles. Every meaning is carried by text or a modifier first (marks, words, bold, reverse);
//! colour only repeats it, and with `color: false` (NO_COLOR) there is none at all.

use ratatui::style::{Color, Modifier, Style};

use crate::engine::StepStatus;

pub(in crate::tui) struct Theme {
    color: bool,
}

impl Theme {
    pub fn new(color: bool) -> Theme {
        Theme { color }
    }

    fn fg(&self, color: Color) -> Style {
        if self.color { Style::new().fg(color) } else { Style::new() }
    }

    pub fn plain(&self) -> Style {
        Style::new()
    }

    pub fn bold(&self) -> Style {
        Style::new().add_modifier(Modifier::BOLD)
    }

    pub fn dim(&self) -> Style {
        self.fg(Color::DarkGray)
    }

    pub fn heading(&self) -> Style {
        self.bold().add_modifier(Modifier::UNDERLINED)
    }

    /// The production banner: reversed and bold even without colour.
    pub fn banner(&self) -> Style {
        let style = self.bold().add_modifier(Modifier::REVERSED);
        if self.color { style.fg(Color::Red) } else { style }
    }

    pub fn selected(&self) -> Style {
        Style::new().add_modifier(Modifier::REVERSED)
    }

    pub fn key(&self) -> Style {
        Style::new().add_modifier(Modifier::REVERSED)
    }

    pub fn alert(&self) -> Style {
        self.fg(Color::Red).add_modifier(Modifier::BOLD)
    }

    pub fn good(&self) -> Style {
        self.fg(Color::Green)
    }

    pub fn status(&self, status: StepStatus) -> Style {
        match status {
            StepStatus::Pending => Style::new(),
            StepStatus::Running => self.fg(Color::Yellow).add_modifier(Modifier::BOLD),
            StepStatus::Waiting => self.fg(Color::Cyan).add_modifier(Modifier::BOLD),
            StepStatus::Done => self.good(),
            StepStatus::Failed => self.alert(),
            StepStatus::Skipped => self.dim(),
        }
    }

    pub fn rolled_back(&self) -> Style {
        self.fg(Color::Magenta)
    }
}
