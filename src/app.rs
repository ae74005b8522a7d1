//! The root component: the main window with its header bar, primary menu,
//! sidebar/content split and empty state. It owns window-level actions and
//! routes requests to the dialogs; it does no work of its own.

use gettextrs::gettext;
use relm4::actions::{AccelsPlus, RelmAction, RelmActionGroup};
use relm4::adw::prelude::*;
use relm4::{
    adw, gtk, Component, ComponentController, ComponentParts, ComponentSender, Controller,
    SimpleComponent,
};

use crate::config;
use crate::connect_dialog::{ConnectDialog, ConnectDialogOutput};
use crate::manager::{Launch, Manager, ManagerMsg, ManagerOutput};
use crate::target::ViewerTarget;

#[derive(Debug)]
pub enum AppMsg {
    /// Ask for a VNC address.
    AskAddress,
    /// Open a console (from the dialog, the command line or a link).
    Open(ViewerTarget),
    /// What a command line asks the VM manager to open.
    Launch(Launch),
    ShowError(String),
    ShowPreferences,
    ShowAbout,
}

pub struct App {
    settings: relm4::gtk::gio::Settings,
    connect_dialog: Controller<ConnectDialog>,
    manager: Controller<Manager>,
    toasts: adw::ToastOverlay,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App").finish_non_exhaustive()
    }
}

relm4::new_action_group!(AppActions, "app");
relm4::new_stateless_action!(PreferencesAction, AppActions, "preferences");
relm4::new_stateless_action!(AboutAction, AppActions, "about");
relm4::new_stateless_action!(QuitAction, AppActions, "quit");
relm4::new_action_group!(WinActions, "win");
relm4::new_stateless_action!(ConnectVncAction, WinActions, "connect-vnc");

#[relm4::component(pub)]
impl SimpleComponent for App {
    type Init = ();
    type Input = AppMsg;
    type Output = ();

    view! {
        #[root]
        main_window = adw::ApplicationWindow {
            set_title: Some(&gettext("Porthole")),
            set_icon_name: Some(config::APP_ID),
            set_width_request: 360,
            set_height_request: 294,

            gtk::Box {
                set_orientation: gtk::Orientation::Vertical,

                adw::HeaderBar {
                    #[wrap(Some)]
                    set_title_widget = &adw::WindowTitle {
                        set_title: &gettext("Porthole"),
                    },
                    pack_start = &crate::manager::labelled::icon_button(
                        "list-add-symbolic",
                        &gettext("Connect to VNC Address…"),
                    ) -> gtk::Button {
                        set_action_name: Some("win.connect-vnc"),
                    },
                    pack_end = &gtk::MenuButton {
                        set_icon_name: "open-menu-symbolic",
                        set_tooltip_text: Some(&gettext("Main Menu")),
                        set_primary: true,
                        set_menu_model: Some(&primary_menu),
                    },
                },

                #[local_ref]
                toasts -> adw::ToastOverlay {
                    set_vexpand: true,

                    #[local_ref]
                    manager_root -> gtk::Paned {},
                },
            },

            connect_close_request[settings] => move |window| {
                save_window_state(&settings, window);
                gtk::glib::Propagation::Proceed
            },
        }
    }

    menu! {
        primary_menu: {
            section! {
                &gettext("_Connect to VNC Address…") => ConnectVncAction,
            },
            section! {
                &gettext("_Preferences") => PreferencesAction,
                &gettext("_Keyboard Shortcuts") => ShowHelpOverlayAction,
                &gettext("_About Porthole") => AboutAction,
            }
        }
    }

    fn init(_: (), root: Self::Root, sender: ComponentSender<Self>) -> ComponentParts<Self> {
        let settings = config::settings();
        follow_style_setting(&settings);
        root.set_default_size(settings.int("window-width"), settings.int("window-height"));
        if settings.boolean("window-maximized") {
            root.maximize();
        }

        let connect_dialog = ConnectDialog::builder()
            .transient_for(&root)
            .launch(settings.clone())
            .forward(sender.input_sender(), |output| match output {
                ConnectDialogOutput::Open(target) => AppMsg::Open(target),
            });

        let manager =
            Manager::builder()
                .launch(settings.clone())
                .forward(sender.input_sender(), |output| match output {
                    ManagerOutput::Toast(text) => AppMsg::ShowError(text),
                });

        let model = App {
            settings: settings.clone(),
            connect_dialog,
            manager,
            toasts: adw::ToastOverlay::new(),
        };
        let toasts = &model.toasts;
        let manager_root = model.manager.widget();
        let widgets = view_output!();

        install_actions(&widgets.main_window, &sender);
        ComponentParts { model, widgets }
    }

    fn update(&mut self, msg: AppMsg, _sender: ComponentSender<Self>) {
        let window = relm4::main_application().active_window();
        match msg {
            AppMsg::AskAddress => self
                .connect_dialog
                .emit(crate::connect_dialog::ConnectDialogMsg::Show),
            AppMsg::Open(target) => crate::viewer::open(target),
            AppMsg::Launch(launch) => self.manager.emit(ManagerMsg::Launch(launch)),
            AppMsg::ShowError(text) => self.toast(&text),
            AppMsg::ShowPreferences => crate::preferences::show(window.as_ref(), &self.settings),
            AppMsg::ShowAbout => crate::about::show(window.as_ref()),
        }
    }
}

impl App {
    fn toast(&self, text: &str) {
        let toast = adw::Toast::new(text);
        toast.set_timeout(6);
        self.toasts.add_toast(toast);
    }
}

relm4::new_stateless_action!(ShowHelpOverlayAction, WinActions, "show-help-overlay");

fn install_actions(window: &adw::ApplicationWindow, sender: &ComponentSender<App>) {
    let app = relm4::main_application();

    let mut app_actions = RelmActionGroup::<AppActions>::new();
    let s = sender.clone();
    app_actions.add_action(RelmAction::<PreferencesAction>::new_stateless(move |_| {
        s.input(AppMsg::ShowPreferences)
    }));
    let s = sender.clone();
    app_actions.add_action(RelmAction::<AboutAction>::new_stateless(move |_| {
        s.input(AppMsg::ShowAbout)
    }));
    let quit_app = app.clone();
    app_actions.add_action(RelmAction::<QuitAction>::new_stateless(move |_| {
        for window in quit_app.windows() {
            window.close();
        }
    }));
    app_actions.register_for_main_application();

    let mut win_actions = RelmActionGroup::<WinActions>::new();
    let s = sender.clone();
    win_actions.add_action(RelmAction::<ConnectVncAction>::new_stateless(move |_| {
        s.input(AppMsg::AskAddress)
    }));
    win_actions.register_for_widget(window);

    app.set_accelerators_for_action::<ConnectVncAction>(&["<Primary>l"]);
    app.set_accelerators_for_action::<PreferencesAction>(&["<Primary>comma"]);
    app.set_accelerators_for_action::<QuitAction>(&["<Primary>q"]);
    app.set_accels_for_action("window.close", &["<Primary>w"]);
}

fn save_window_state(settings: &relm4::gtk::gio::Settings, window: &adw::ApplicationWindow) {
    // A failed write only loses the remembered size.
    if !window.is_maximized() {
        let (width, height) = window.default_size();
        let _ = settings.set_int("window-width", width);
        let _ = settings.set_int("window-height", height);
    }
    let _ = settings.set_boolean("window-maximized", window.is_maximized());
}

/// Applies the style preference now and whenever it changes.
fn follow_style_setting(settings: &relm4::gtk::gio::Settings) {
    let apply = |settings: &relm4::gtk::gio::Settings| {
        let scheme = match settings.string("style-variant").as_str() {
            "light" => adw::ColorScheme::ForceLight,
            "dark" => adw::ColorScheme::ForceDark,
            _ => adw::ColorScheme::Default,
        };
        adw::StyleManager::default().set_color_scheme(scheme);
    };
    apply(settings);
    settings.connect_changed(Some("style-variant"), move |settings, _| apply(settings));
}
