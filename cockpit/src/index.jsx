import "@patternfly/react-core/dist/styles/base.css";
import { createRoot } from "react-dom/client";
import { App } from "./app.jsx";

window.cockpit.translate();
createRoot(document.getElementById("app")).render(<App />);
