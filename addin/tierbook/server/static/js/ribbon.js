// tierbook's ribbon buttons (manifest.xml, tierbook.excel.BUTTONS): each runs one
// script of tierbook.excel through xlwings Server's custom-scripts route.
function tierbookButton(scriptName) {
  return async function (event) {
    let authResult =
      typeof globalThis.getAuth === "function"
        ? await globalThis.getAuth()
        : { token: "", provider: "" };
    try {
      await xlwings.runPython({
        auth: authResult.token,
        scriptName: scriptName,
        headers: { "Auth-Provider": authResult.provider },
      });
    } finally {
      event.completed();
    }
  };
}
Office.actions.associate("tbSegment", tierbookButton("segment_customers"));
Office.actions.associate("tbSplit", tierbookButton("segment_workbooks"));
Office.actions.associate("tbPlanReactivation", tierbookButton("plan_reactivation"));
Office.actions.associate("tbReactivationResults", tierbookButton("reactivation_results"));
