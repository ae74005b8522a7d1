//! The clipboard both ways between the desktop (`gdk::Clipboard`) and the
//! session, when sharing is on. Owns the echo guard: text that came from
//! the server is not sent back to it.

use std::cell::RefCell;
use std::rc::Rc;

use gtk::glib;
use gtk::prelude::*;

use crate::driver::Handle;

/// What the clipboard link remembers.
#[derive(Debug, Default)]
pub struct ClipboardLink {
    /// The last text the server gave us, so the desktop's change
    /// notification for it is not sent back.
    from_server: Rc<RefCell<Option<String>>>,
    changed: RefCell<Option<glib::SignalHandlerId>>,
}

impl ClipboardLink {
    /// Puts the server's clipboard text on the desktop's clipboard.
    pub fn show_server_text(&self, widget: &impl IsA<gtk::Widget>, text: String) {
        widget.clipboard().set_text(&text);
        self.from_server.replace(Some(text));
    }

    /// Starts sending the desktop's clipboard changes through `handle`
    /// (call once per connection; `stop` undoes it).
    pub fn start(&self, widget: &impl IsA<gtk::Widget>, handle: Handle) {
        self.stop(widget);
        let clipboard = widget.clipboard();
        let from_server = Rc::clone(&self.from_server);
        let id = clipboard.connect_changed(move |clipboard| {
            let handle = handle.clone();
            let from_server = Rc::clone(&from_server);
            clipboard.read_text_async(None::<&gtk::gio::Cancellable>, move |result| {
                if let Ok(Some(text)) = result {
                    // Our own `set_text` of the server's text comes back
                    // here too.
                    if from_server.borrow().as_deref() != Some(text.as_str()) {
                        handle.send_clipboard_text(text.as_str());
                    }
                }
            });
        });
        self.changed.replace(Some(id));
    }

    /// Stops following the desktop's clipboard.
    pub fn stop(&self, widget: &impl IsA<gtk::Widget>) {
        if let Some(id) = self.changed.take() {
            widget.clipboard().disconnect(id);
        }
    }
}
