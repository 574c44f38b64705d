/**
 * The React demo page's script (`/react.html`): renders the four examples. Built into
 * `dist/demo/react.js` by `npm run build`. The examples wear the Lit elements' shared styles,
 * scoped to `.yss` by CSS nesting, so that both pages look alike.
 *
 * @example
 *   <div id="app"></div><script type="module" src="/react.js"></script>
 */
import { StrictMode } from 'react'
import { createRoot } from 'react-dom/client'
import { sharedStyles } from '../components/shared-styles.js'
import { onlineStyles } from '../components/online-line.js'
import { App } from './react/app.js'

const style = document.createElement('style')
style.textContent = `.yss { ${[sharedStyles, onlineStyles].map((s) => s.cssText.replaceAll(':host', '&')).join('\n')} }`
document.head.append(style)

createRoot(document.getElementById('app')!).render(
  <StrictMode>
    <App />
  </StrictMode>
)
