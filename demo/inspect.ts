/**
 * The inspector page's script: defines `<yss-inspector>`. Built into `dist/demo/inspect.js` by
 * `npm run build`; the relay serves the page at `/inspect`.
 *
 * @example
 *   <script type="module" src="/inspect.js"></script>
 */
import './inspector/inspector-element.js'
