//! AT-SPI access to a running GTK app for UI tests: start the accessibility
//! bus next to a private session bus, find the app's widgets by role and
//! name, read their name, description, text, states and screen extents, and
//! act on them (actions such as "click", setting an entry's text, focus).
//! It only reads and drives the tree; it caches nothing between calls,
//! because the UI changes under the test.
//!
//! Plain zbus calls to `org.a11y.atspi.*`, not the `atspi` crate: atspi 0.30
//! turns on zbus's `async-io` feature, which would unify into the app's own
//! zbus in test builds, and the dozen methods needed here are one call each.
//! The calls run on a small tokio runtime of our own, so the API is blocking.

use std::fmt::Write as _;
use std::io;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use zbus::zvariant::{OwnedObjectPath, OwnedValue};

use crate::process::{ServerProcess, TempDir};

const REGISTRYD: &str = "/usr/libexec/at-spi2-registryd";

/// Whether what a test of the app through AT-SPI needs is installed
/// (packages xvfb, dbus, at-spi2-core): false, said loudly, when not;
/// a failure in CI.
pub fn ui_tools_available() -> bool {
    crate::process::tools_available(&["Xvfb", "dbus-daemon", "dbus-send", REGISTRYD])
}
/// How long the bus daemon and the registry may take to come up.
const START_TIMEOUT: Duration = Duration::from_secs(10);
const REGISTRY: &str = "org.a11y.atspi.Registry";
const ROOT_PATH: &str = "/org/a11y/atspi/accessible/root";
const ACCESSIBLE: &str = "org.a11y.atspi.Accessible";
const TEXT: &str = "org.a11y.atspi.Text";
const COMPONENT: &str = "org.a11y.atspi.Component";
/// Pause between two looks at the tree while waiting for a change.
const POLL: Duration = Duration::from_millis(100);
/// A bound on one walk, so a runaway tree fails clearly instead of hanging.
const MAX_NODES: usize = 20_000;
/// How long one D-Bus call may take before the app counts as hung.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// AT-SPI state names, indexed by their bit in `GetState` (AtspiStateType).
const STATE_NAMES: [&str; 44] = [
    "invalid",
    "active",
    "armed",
    "busy",
    "checked",
    "collapsed",
    "defunct",
    "editable",
    "enabled",
    "expandable",
    "expanded",
    "focusable",
    "focused",
    "has-tooltip",
    "horizontal",
    "iconified",
    "modal",
    "multi-line",
    "multiselectable",
    "opaque",
    "pressed",
    "resizable",
    "selectable",
    "selected",
    "sensitive",
    "showing",
    "single-line",
    "stale",
    "transient",
    "vertical",
    "visible",
    "manages-descendants",
    "indeterminate",
    "required",
    "truncated",
    "animated",
    "invalid-entry",
    "supports-autocompletion",
    "selectable-text",
    "is-default",
    "visited",
    "checkable",
    "has-popup",
    "read-only",
];

/// A private accessibility bus for one test: its own `dbus-daemon` and
/// `at-spi2-registryd`, both our children and killed by PID when dropped,
/// plus `org.a11y.Bus` answered on the test's session bus so apps (and
/// [`A11y::connect`]) find it. Not `at-spi-bus-launcher`: it puts its bus
/// at a fixed path under `$XDG_RUNTIME_DIR` or `~/.cache`, and the bus and
/// registry it starts outlive it when it is killed.
#[derive(Debug)]
pub struct AccessibilityBus {
    session_bus: String,
    address: String,
    // Field order is drop order: stop answering, then the registry, then the bus.
    _service: (zbus::Connection, tokio::runtime::Runtime),
    _registry: ServerProcess,
    _daemon: ServerProcess,
    _dir: TempDir,
}

impl AccessibilityBus {
    /// Starts the bus and the registry, and serves `org.a11y.Bus` on
    /// `session_bus_address` (e.g. a `PrivateBus`).
    pub fn start(session_bus_address: &str) -> io::Result<Self> {
        let dir = TempDir::new("porthole-a11y-bus")?;
        let (daemon, address) =
            crate::bus::start_daemon("accessibility", &dir, "dbus-daemon (a11y)")?;

        let mut command = Command::new(REGISTRYD);
        command
            .env("AT_SPI_BUS_ADDRESS", &address)
            .env("DBUS_SESSION_BUS_ADDRESS", session_bus_address)
            .env_remove("DISPLAY")
            .env_remove("WAYLAND_DISPLAY");
        let mut registry = ServerProcess::spawn("at-spi2-registryd", command)?;
        let runtime = runtime()?;
        registry.wait_until("owning org.a11y.atspi.Registry", START_TIMEOUT, |_| {
            runtime.block_on(registry_running(&address)).then_some(())
        })?;

        let service = runtime
            .block_on(async {
                zbus::connection::Builder::address(session_bus_address)?
                    .name("org.a11y.Bus")?
                    .serve_at(
                        "/org/a11y/bus",
                        BusService {
                            address: address.clone(),
                        },
                    )?
                    .build()
                    .await
            })
            .map_err(|e| {
                io::Error::other(format!(
                    "cannot serve org.a11y.Bus on {session_bus_address}: {e}"
                ))
            })?;
        Ok(Self {
            session_bus: session_bus_address.to_owned(),
            address,
            _service: (service, runtime),
            _registry: registry,
            _daemon: daemon,
            _dir: dir,
        })
    }

    /// The accessibility bus address.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// Makes `command` (e.g. from `Display::command`, which turns
    /// accessibility off) use the session bus and this accessibility bus.
    pub fn enable(&self, command: &mut Command) {
        command
            .env("DBUS_SESSION_BUS_ADDRESS", &self.session_bus)
            .env("AT_SPI_BUS_ADDRESS", &self.address)
            .env_remove("GTK_A11Y")
            .env_remove("NO_AT_BRIDGE");
    }

    /// A client of this accessibility bus.
    pub fn connect(&self) -> io::Result<A11y> {
        A11y::connect_to(&self.address)
    }
}

/// `org.a11y.Bus` as at-spi-bus-launcher offers it: only the address.
struct BusService {
    address: String,
}

#[zbus::interface(name = "org.a11y.Bus")]
impl BusService {
    #[zbus(name = "GetAddress")]
    fn get_address(&self) -> String {
        self.address.clone()
    }
}

async fn registry_running(a11y_bus_address: &str) -> bool {
    let Ok(builder) = zbus::connection::Builder::address(a11y_bus_address) else {
        return false;
    };
    let Ok(bus) = builder.build().await else {
        return false;
    };
    let reply = bus
        .call_method(
            Some("org.freedesktop.DBus"),
            "/org/freedesktop/DBus",
            Some("org.freedesktop.DBus"),
            "NameHasOwner",
            &REGISTRY,
        )
        .await;
    match reply {
        Ok(reply) => reply.body().deserialize::<bool>().unwrap_or(false),
        Err(_) => false,
    }
}

/// A connection to the accessibility bus.
#[derive(Debug, Clone)]
pub struct A11y {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    runtime: tokio::runtime::Runtime,
    bus: zbus::Connection,
}

impl Shared {
    fn block_on<T>(&self, future: impl std::future::Future<Output = T>) -> T {
        self.runtime.block_on(future)
    }
}

impl A11y {
    /// Asks `org.a11y.Bus` on the given session bus for the accessibility
    /// bus and connects to it.
    pub fn connect(session_bus_address: &str) -> io::Result<Self> {
        let runtime = runtime()?;
        let address = runtime.block_on(a11y_bus_address(session_bus_address))?;
        Self::connect_with(runtime, &address)
    }

    /// Connects to the accessibility bus at `a11y_bus_address`.
    pub fn connect_to(a11y_bus_address: &str) -> io::Result<Self> {
        Self::connect_with(runtime()?, a11y_bus_address)
    }

    fn connect_with(runtime: tokio::runtime::Runtime, address: &str) -> io::Result<Self> {
        let bus = runtime.block_on(async {
            zbus::connection::Builder::address(address)
                .map_err(dbus_error)?
                .method_timeout(CALL_TIMEOUT)
                .build()
                .await
                .map_err(|e| {
                    io::Error::other(format!("cannot connect to the a11y bus {address}: {e}"))
                })
        })?;
        Ok(Self {
            shared: Arc::new(Shared { runtime, bus }),
        })
    }

    /// The registry's desktop node, whose children are the applications.
    pub fn desktop(&self) -> Node {
        Node {
            shared: self.shared.clone(),
            bus_name: REGISTRY.to_owned(),
            path: ROOT_PATH.to_owned(),
        }
    }

    /// Waits until an application named `name` (GTK uses the program name,
    /// e.g. "porthole") has registered, and returns its root node.
    pub fn app(&self, name: &str, timeout: Duration) -> io::Result<Node> {
        let deadline = Instant::now() + timeout;
        let desktop = self.desktop();
        loop {
            let apps = desktop.children().unwrap_or_default();
            let mut seen = Vec::new();
            for app in apps {
                let app_name = app.name().unwrap_or_default();
                if app_name == name {
                    return Ok(app);
                }
                seen.push(app_name);
            }
            if Instant::now() >= deadline {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!(
                        "no application “{name}” registered on the a11y bus within {timeout:?}; registered: {seen:?}"
                    ),
                ));
            }
            std::thread::sleep(POLL);
        }
    }
}

/// One accessible object: a D-Bus name and object path. Every method asks
/// the app afresh.
#[derive(Clone)]
pub struct Node {
    shared: Arc<Shared>,
    bus_name: String,
    path: String,
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Node({}{})", self.bus_name, self.path)
    }
}

impl PartialEq for Node {
    fn eq(&self, other: &Self) -> bool {
        self.bus_name == other.bus_name && self.path == other.path
    }
}

/// What one walk of the tree saw of a node.
#[derive(Debug, Clone)]
struct Seen {
    node: Node,
    role: String,
    name: String,
    depth: usize,
    children: Vec<usize>,
}

impl Node {
    fn child(&self, (bus_name, path): (String, OwnedObjectPath)) -> Node {
        Node {
            shared: self.shared.clone(),
            bus_name,
            path: path.to_string(),
        }
    }

    async fn call<B, R>(&self, interface: &str, method: &str, body: &B) -> zbus::Result<R>
    where
        B: zbus::export::serde::ser::Serialize + zbus::zvariant::DynamicType,
        R: for<'d> zbus::zvariant::DynamicDeserialize<'d>,
    {
        let reply = self
            .shared
            .bus
            .call_method(
                Some(self.bus_name.as_str()),
                self.path.as_str(),
                Some(interface),
                method,
                body,
            )
            .await?;
        let body = reply.body();
        body.deserialize::<R>()
    }

    async fn property(&self, interface: &str, name: &str) -> zbus::Result<OwnedValue> {
        self.call("org.freedesktop.DBus.Properties", "Get", &(interface, name))
            .await
    }

    async fn name_async(&self) -> zbus::Result<String> {
        let value = self.property(ACCESSIBLE, "Name").await?;
        Ok(String::try_from(value).unwrap_or_default())
    }

    async fn role_async(&self) -> zbus::Result<String> {
        self.call(ACCESSIBLE, "GetRoleName", &()).await
    }

    async fn children_async(&self) -> zbus::Result<Vec<Node>> {
        match self
            .call::<_, Vec<(String, OwnedObjectPath)>>(ACCESSIBLE, "GetChildren", &())
            .await
        {
            Ok(children) => Ok(children.into_iter().map(|c| self.child(c)).collect()),
            // Some toolkits only answer GetChildAtIndex.
            Err(zbus::Error::MethodError(..)) => {
                let count =
                    i32::try_from(self.property(ACCESSIBLE, "ChildCount").await?).unwrap_or(0);
                let mut children = Vec::new();
                for index in 0..count {
                    let child: (String, OwnedObjectPath) =
                        self.call(ACCESSIBLE, "GetChildAtIndex", &index).await?;
                    children.push(self.child(child));
                }
                Ok(children)
            }
            Err(e) => Err(e),
        }
    }

    async fn states_async(&self) -> zbus::Result<Vec<&'static str>> {
        let words: Vec<u32> = self.call(ACCESSIBLE, "GetState", &()).await?;
        let mut states = Vec::new();
        for (word_index, word) in words.iter().enumerate() {
            for bit in 0..32 {
                if word & (1 << bit) != 0 {
                    if let Some(name) = STATE_NAMES.get(word_index * 32 + bit) {
                        states.push(*name);
                    }
                }
            }
        }
        Ok(states)
    }

    fn blocking<T>(
        &self,
        what: &str,
        future: impl std::future::Future<Output = zbus::Result<T>>,
    ) -> io::Result<T> {
        self.shared
            .block_on(future)
            .map_err(|e| io::Error::other(format!("{what} of {self:?} failed: {e}")))
    }

    /// The accessible name (a button's label, a window's title, …).
    pub fn name(&self) -> io::Result<String> {
        self.blocking("reading the name", self.name_async())
    }

    /// The accessible description (GTK puts tooltips of labelled widgets here).
    pub fn description(&self) -> io::Result<String> {
        self.blocking("reading the description", async {
            let value = self.property(ACCESSIBLE, "Description").await?;
            Ok(String::try_from(value).unwrap_or_default())
        })
    }

    /// The role as AT-SPI names it, e.g. "push button", "frame", "text".
    pub fn role_name(&self) -> io::Result<String> {
        self.blocking("reading the role", self.role_async())
    }

    /// Direct children, in order.
    pub fn children(&self) -> io::Result<Vec<Node>> {
        self.blocking("listing the children", self.children_async())
    }

    /// State names such as "sensitive", "visible", "focusable", "focused",
    /// "checked", "selected", "editable", "modal". GTK 4.8 never sets
    /// "enabled" (use "sensitive") and sets "showing" only on the main
    /// window (use [`Node::is_drawn`]).
    pub fn states(&self) -> io::Result<Vec<&'static str>> {
        self.blocking("reading the states", self.states_async())
    }

    /// Whether `state` (a name from [`Node::states`]) is set.
    pub fn has_state(&self, state: &str) -> io::Result<bool> {
        Ok(self.states()?.contains(&state))
    }

    /// The D-Bus interfaces the object implements (e.g. "org.a11y.atspi.Action").
    pub fn interfaces(&self) -> io::Result<Vec<String>> {
        self.blocking(
            "listing the interfaces",
            self.call(ACCESSIBLE, "GetInterfaces", &()),
        )
    }

    /// The names of the actions the object offers, e.g. `["click"]`.
    pub fn actions(&self) -> io::Result<Vec<String>> {
        let actions: Vec<(String, String, String)> = self.blocking(
            "listing the actions",
            self.call("org.a11y.atspi.Action", "GetActions", &()),
        )?;
        Ok(actions.into_iter().map(|(name, _, _)| name).collect())
    }

    /// Performs the action called `action`, ignoring case: GTK 4.8 offers
    /// "Click" on buttons and "Activate" on entries.
    pub fn do_action(&self, action: &str) -> io::Result<()> {
        let actions = self.actions()?;
        let index = actions
            .iter()
            .position(|a| a.eq_ignore_ascii_case(action))
            .ok_or_else(|| {
                io::Error::other(format!(
                    "{self:?} has no action “{action}”; it has {actions:?}"
                ))
            })?;
        self.do_action_index(index)
    }

    /// Performs the action at `index` of [`Node::actions`].
    pub fn do_action_index(&self, index: usize) -> io::Result<()> {
        let index = i32::try_from(index).map_err(io::Error::other)?;
        let done: bool = self.blocking(
            "performing an action",
            self.call("org.a11y.atspi.Action", "DoAction", &index),
        )?;
        if done {
            Ok(())
        } else {
            Err(io::Error::other(format!("{self:?} refused action {index}")))
        }
    }

    /// Replaces the text of an editable widget (EditableText interface), as
    /// if the user had typed it: change signals fire as for typing.
    pub fn set_text(&self, text: &str) -> io::Result<()> {
        let done: bool = self.blocking(
            "setting the text",
            self.call("org.a11y.atspi.EditableText", "SetTextContents", &text),
        )?;
        if done {
            Ok(())
        } else {
            Err(io::Error::other(format!(
                "{self:?} refused to take the text “{text}”"
            )))
        }
    }

    /// The whole text of a text widget (Text interface). Asks for the
    /// length first: GTK 4.8 answers `GetText(0, -1)` with "".
    pub fn text(&self) -> io::Result<String> {
        self.blocking("reading the text", async {
            let count = i32::try_from(self.property(TEXT, "CharacterCount").await?).unwrap_or(0);
            self.call(TEXT, "GetText", &(0i32, count)).await
        })
    }

    /// Moves keyboard focus to the object.
    pub fn grab_focus(&self) -> io::Result<()> {
        let done: bool =
            self.blocking("grabbing the focus", self.call(COMPONENT, "GrabFocus", &()))?;
        if done {
            Ok(())
        } else {
            Err(io::Error::other(format!("{self:?} did not take the focus")))
        }
    }

    /// `(x, y, width, height)` of the widget. GTK 4 does not know where
    /// its windows are on the screen, so this is relative to the top-left
    /// corner of the widget's window (crop a `Display::screenshot` of that
    /// window with it). A widget that is not drawn (an unmapped page, the
    /// unused half of a squeezer) has width and height 0.
    pub fn extents(&self) -> io::Result<(i32, i32, i32, i32)> {
        self.blocking("reading the extents", self.extents_async())
    }

    async fn extents_async(&self) -> zbus::Result<(i32, i32, i32, i32)> {
        // 0 = ATSPI_COORD_TYPE_SCREEN; GTK 4 answers in window coordinates anyway.
        self.call(COMPONENT, "GetExtents", &0u32).await
    }

    /// Whether the widget takes up room on screen: GTK 4.8 sets the
    /// "showing" state only on the main window, so this looks at the size.
    async fn drawn_async(&self) -> bool {
        match self.extents_async().await {
            Ok((_, _, width, height)) => width > 0 && height > 0,
            // Objects without the Component interface (the application).
            Err(zbus::Error::MethodError(..)) => true,
            Err(_) => false,
        }
    }

    /// Whether the widget takes up room on screen (see [`Node::extents`]).
    pub fn is_drawn(&self) -> bool {
        self.shared.block_on(self.drawn_async())
    }

    /// Walks the subtree once, asking all nodes of one depth at the same
    /// time, and returns the nodes in depth-first order.
    fn walk(&self) -> Vec<Seen> {
        self.shared.block_on(async {
            let mut seen: Vec<Seen> = vec![Seen {
                node: self.clone(),
                role: String::new(),
                name: String::new(),
                depth: 0,
                children: Vec::new(),
            }];
            let mut level = vec![0usize];
            while !level.is_empty() && seen.len() < MAX_NODES {
                let answers = join_all(level.iter().map(|&i| {
                    let node = seen[i].node.clone();
                    async move {
                        let (role, name, children) = tokio::join!(
                            node.role_async(),
                            node.name_async(),
                            node.children_async()
                        );
                        // A node that vanished mid-walk is simply not there.
                        (
                            role.unwrap_or_default(),
                            name.unwrap_or_default(),
                            children.unwrap_or_default(),
                        )
                    }
                }))
                .await;
                let mut next = Vec::new();
                for (&i, (role, name, children)) in level.iter().zip(answers) {
                    seen[i].role = role;
                    seen[i].name = name;
                    let depth = seen[i].depth + 1;
                    for child in children {
                        let index = seen.len();
                        seen.push(Seen {
                            node: child,
                            role: String::new(),
                            name: String::new(),
                            depth,
                            children: Vec::new(),
                        });
                        seen[i].children.push(index);
                        next.push(index);
                    }
                }
                level = next;
            }
            // Depth-first order from the breadth-first walk.
            let mut order = Vec::with_capacity(seen.len());
            let mut stack = vec![0usize];
            while let Some(i) = stack.pop() {
                order.push(i);
                stack.extend(seen[i].children.iter().rev());
            }
            order.into_iter().map(|i| seen[i].clone()).collect()
        })
    }

    /// Every drawn node below (and including) this one whose role name is
    /// `role` ("" for any) and whose name is `name`, in depth-first order.
    /// Names match exactly or in GTK 4.8's form for mnemonic labels
    /// ("C_onnect Connect" matches "Connect"). Widgets that are not drawn
    /// (see [`Node::extents`]) are left out: AdwMessageDialog, for one,
    /// holds every response button twice.
    pub fn find_all(&self, role: &str, name: &str) -> io::Result<Vec<Node>> {
        self.find_all_where(|r, n| (role.is_empty() || r == role) && name_matches(n, name))
    }

    /// Every drawn node below (and including) this one for which
    /// `matches(role_name, name)` holds, in depth-first order.
    pub fn find_all_where(&self, matches: impl Fn(&str, &str) -> bool) -> io::Result<Vec<Node>> {
        let candidates: Vec<Node> = self
            .walk()
            .into_iter()
            .filter(|s| matches(&s.role, &s.name))
            .map(|s| s.node)
            .collect();
        let drawn = self
            .shared
            .block_on(join_all(candidates.iter().map(|n| n.drawn_async())));
        Ok(candidates
            .into_iter()
            .zip(drawn)
            .filter_map(|(node, drawn)| drawn.then_some(node))
            .collect())
    }

    /// Waits until a drawn node with this role ("" for any) and name (as
    /// in [`Node::find_all`]) is below this one and returns the first in
    /// depth-first order. On timeout the error lists what the subtree holds.
    pub fn find(&self, role: &str, name: &str, timeout: Duration) -> io::Result<Node> {
        let role_text = if role.is_empty() { "any role" } else { role };
        self.find_where(&format!("“{name}” ({role_text})"), timeout, |r, n| {
            (role.is_empty() || r == role) && name_matches(n, name)
        })
    }

    /// Waits until a drawn node for which `matches(role_name, name)` holds
    /// is below this one; `what` describes it for the timeout error, e.g.
    /// `dialog.find_where("the address entry", t, |role, _| role == "text box")`.
    pub fn find_where(
        &self,
        what: &str,
        timeout: Duration,
        matches: impl Fn(&str, &str) -> bool,
    ) -> io::Result<Node> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(node) = self.find_all_where(&matches)?.into_iter().next() {
                return Ok(node);
            }
            if Instant::now() >= deadline {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!(
                        "no drawn {what} appeared below {self:?} within {timeout:?}; the tree holds:\n{}",
                        self.dump_string(200)
                    ),
                ));
            }
            std::thread::sleep(POLL);
        }
    }

    /// Waits until `state` is set (`present`) or cleared (`!present`),
    /// e.g. `button.wait_state("sensitive", false, t)` after typing
    /// something invalid.
    pub fn wait_state(&self, state: &str, present: bool, timeout: Duration) -> io::Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            let states = self.states()?;
            if states.contains(&state) == present {
                return Ok(());
            }
            if Instant::now() >= deadline {
                let change = if present { "get" } else { "lose" };
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!(
                        "{self:?} (“{}”) did not {change} “{state}” within {timeout:?}; its states: {states:?}",
                        self.name().unwrap_or_default()
                    ),
                ));
            }
            std::thread::sleep(POLL);
        }
    }

    /// Whether the node is gone: destroyed (GTK unexports a closed
    /// window's objects), defunct, or no longer drawn.
    pub fn is_gone(&self) -> bool {
        self.shared.block_on(async {
            match self.states_async().await {
                Ok(states) => states.contains(&"defunct") || !self.drawn_async().await,
                Err(_) => true,
            }
        })
    }

    /// Waits until [`Node::is_gone`].
    pub fn wait_gone(&self, timeout: Duration) -> io::Result<()> {
        let deadline = Instant::now() + timeout;
        while !self.is_gone() {
            if Instant::now() >= deadline {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!(
                        "{self:?} (“{}”) is still there after {timeout:?}",
                        self.name().unwrap_or_default()
                    ),
                ));
            }
            std::thread::sleep(POLL);
        }
        Ok(())
    }

    /// The subtree as indented `role “name”` lines, at most `limit` lines.
    pub fn dump_string(&self, limit: usize) -> String {
        let seen = self.walk();
        let mut out = String::new();
        for s in seen.iter().take(limit) {
            let _ = writeln!(out, "{}{} “{}”", "  ".repeat(s.depth), s.role, s.name);
        }
        if seen.len() > limit {
            let _ = writeln!(out, "… {} more", seen.len() - limit);
        }
        out
    }

    /// Prints the subtree to stderr (for debugging a failing test).
    pub fn dump(&self) {
        eprint!("{}", self.dump_string(usize::MAX));
    }
}

/// Whether an accessible name is `wanted`. GTK 4.8 names a button with a
/// mnemonic label "<label with underscore> <label>", e.g. "_Cancel Cancel".
fn name_matches(actual: &str, wanted: &str) -> bool {
    if actual == wanted {
        return true;
    }
    actual
        .strip_suffix(wanted)
        .and_then(|rest| rest.strip_suffix(' '))
        .is_some_and(|mnemonic| mnemonic.contains('_') && mnemonic.replace('_', "") == wanted)
}

fn runtime() -> io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
}

fn dbus_error(e: zbus::Error) -> io::Error {
    io::Error::other(e.to_string())
}

/// Asks `org.a11y.Bus` on the session bus for the accessibility bus address.
async fn a11y_bus_address(session_bus_address: &str) -> io::Result<String> {
    let session = zbus::connection::Builder::address(session_bus_address)
        .map_err(dbus_error)?
        .method_timeout(CALL_TIMEOUT)
        .build()
        .await
        .map_err(|e| io::Error::other(format!("cannot connect to {session_bus_address}: {e}")))?;
    let reply = session
        .call_method(
            Some("org.a11y.Bus"),
            "/org/a11y/bus",
            Some("org.a11y.Bus"),
            "GetAddress",
            &(),
        )
        .await
        .map_err(|e| {
            io::Error::other(format!(
                "no accessibility bus (org.a11y.Bus) on {session_bus_address}: {e}"
            ))
        })?;
    let body = reply.body();
    body.deserialize::<String>().map_err(dbus_error)
}

#[cfg(test)]
mod tests {
    use super::name_matches;

    #[test]
    fn names_match_exactly_or_in_gtks_mnemonic_form() {
        assert!(name_matches("Porthole", "Porthole"));
        assert!(name_matches("C_onnect Connect", "Connect"));
        assert!(name_matches("_Save As Save As", "Save As"));
        assert!(!name_matches("Connect", "Connec"));
        assert!(!name_matches("Reconnect Connect", "Connect"));
        assert!(!name_matches("_Cancel Cancel", "Connect"));
    }
}
