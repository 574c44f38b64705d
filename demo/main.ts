/**
 * The demo page's script: defines the elements. Built into `dist/demo/demo.js` by `npm run build`.
 *
 * @example
 *   <script type="module" src="/demo.js"></script>
 */
import '../components/index.js'
